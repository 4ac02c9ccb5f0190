// An in-memory LogStorage for tests and the deterministic simulation. Everything it holds counts as
// durable: the simulation models a crash by keeping this object and dropping the node around it.
#pragma once

#include <vector>

#include "raft/log_storage.h"

namespace medvault::raft {

class MemoryLogStorage : public LogStorage {
 public:
  MemoryLogStorage() = default;

  HardState hard_state() const override { return hard_state_; }
  SnapshotMeta snapshot_meta() const override { return snapshot_; }
  uint64_t LastIndex() const override { return snapshot_.index() + entries_.size(); }
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;

  absl::Status Save(const HardState* hs, const std::vector<Entry>& entries) override;
  absl::Status InstallSnapshot(const SnapshotMeta& meta) override;
  absl::Status Compact(const SnapshotMeta& meta) override;

 private:
  HardState hard_state_;
  SnapshotMeta snapshot_;
  std::vector<Entry> entries_;  // entries_[i] has index snapshot_.index() + 1 + i
};

}  // namespace medvault::raft
