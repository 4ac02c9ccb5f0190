// Durable storage of a Raft node's log and hard state. The core reads through it; the node driver
// writes to it (and fsyncs) before anything that depends on the write leaves the node.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "medvault/v1/raft.pb.h"

namespace medvault::raft {

using Entry = medvault::v1::RaftEntry;
using HardState = medvault::v1::RaftHardState;
using SnapshotMeta = medvault::v1::RaftSnapshotMeta;

// Entries live at indexes [FirstIndex(), LastIndex()]; everything before FirstIndex() is covered by
// the snapshot whose metadata is snapshot_meta() (index FirstIndex() - 1; 0 for a new node).
// Thread safety: implementations must allow reads from the core while the driver writes between
// core steps (the driver serialises them; no concurrent access is required).
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  virtual HardState hard_state() const = 0;
  virtual SnapshotMeta snapshot_meta() const = 0;
  uint64_t FirstIndex() const { return snapshot_meta().index() + 1; }
  virtual uint64_t LastIndex() const = 0;
  // Term of the entry at `index`, for index in [FirstIndex() - 1, LastIndex()]; OUT_OF_RANGE
  // outside.
  virtual absl::StatusOr<uint64_t> Term(uint64_t index) const = 0;
  // Entries [lo, hi) with total data size at most max_bytes (but at least one entry).
  // REQUIRES: FirstIndex() <= lo < hi <= LastIndex() + 1.
  virtual absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const = 0;

  // Durably (fsync'd) replaces the hard state if `hs` is set, and appends `entries` (contiguous),
  // first dropping every stored entry at or after entries[0].index(). Atomic.
  virtual absl::Status Save(const HardState* hs, const std::vector<Entry>& entries) = 0;
  // Durably discards the whole log and records `meta` as the snapshot the log now follows.
  virtual absl::Status InstallSnapshot(const SnapshotMeta& meta) = 0;
  // Drops entries up to and including `index` (which must be <= LastIndex() and already applied),
  // recording `meta` (index, term, config at `index`) as the new snapshot point.
  virtual absl::Status Compact(const SnapshotMeta& meta) = 0;
};

}  // namespace medvault::raft
