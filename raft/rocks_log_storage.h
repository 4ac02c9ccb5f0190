// LogStorage in RocksDB: entries in column family "raft_log" (key: index, 8 bytes big-endian),
// hard state and snapshot metadata in "raft_meta". Shares the service's database so that the state
// machine can record its applied index in the same atomic write as the state it applies.
// Every write is synchronous (WAL fsync'd) before it returns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"
#include "raft/log_storage.h"

namespace medvault::raft {

inline constexpr char kRaftLogCf[] = "raft_log";
inline constexpr char kRaftMetaCf[] = "raft_meta";
// A snapshot being received from the leader, beside the live state (raft/snapshot_staging.h).
inline constexpr char kRaftStagingCf[] = "raft_staging";

// Column families a database must be opened with to hold a Raft log.
std::vector<std::string> RaftColumnFamilies();

// Thread-safe (one writer at a time is expected: the node driver).
class RocksLogStorage : public LogStorage {
 public:
  // Loads the hard state, snapshot metadata and term index. `kv` must outlive the storage.
  static absl::StatusOr<std::unique_ptr<RocksLogStorage>> Open(KvStore* kv);

  // True when nothing was ever stored (a new or wiped replica).
  bool empty() const;

  HardState hard_state() const override;
  SnapshotMeta snapshot_meta() const override;
  uint64_t LastIndex() const override;
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;

  absl::Status Save(const HardState* hs, const std::vector<Entry>& entries) override;
  absl::Status InstallSnapshot(const SnapshotMeta& meta) override;
  absl::Status Compact(const SnapshotMeta& meta) override;

 private:
  explicit RocksLogStorage(KvStore* kv) : kv_(kv) {}

  KvStore* const kv_;
  mutable absl::Mutex mu_;
  HardState hard_state_ ABSL_GUARDED_BY(mu_);
  SnapshotMeta snapshot_ ABSL_GUARDED_BY(mu_);
  bool has_meta_ ABSL_GUARDED_BY(mu_) = false;
  // terms_[i] is the term of entry snapshot_.index() + 1 + i: the core asks for terms constantly.
  std::vector<uint64_t> terms_ ABSL_GUARDED_BY(mu_);
};

std::string LogKey(uint64_t index);

}  // namespace medvault::raft
