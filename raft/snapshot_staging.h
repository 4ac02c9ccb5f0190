// A leader's snapshot received in pieces (RaftService.InstallSnapshot), staged beside the live
// state and then switched in, with memory bounded by one piece and one write batch whatever the
// size of the state.
//
// Receiving writes each piece's records into the column family "raft_staging" (key: column family
// name, a 0 byte, the record's key) and, once the last piece arrived with every record it counts,
// records the staged snapshot's position in "raft_meta" (synced). Nothing of it is visible yet: an
// interrupted stream leaves the old state untouched, and the next stream starts over.
//
// Installing first records "installing at <position>" together with the deletion of the state's
// column families (one synced batch), then copies the staged records into them in bounded batches,
// and last writes the applied position, clears both markers and the staging area (one synced
// batch). A crash in between leaves the marker, and Recover() (run when the state machine opens,
// before anything reads the state) redoes the copy: after a restart the state is either the old
// one (the marker was never written) or the whole new one, never a part.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"
#include "medvault/v1/raft.pb.h"
#include "raft/log_storage.h"

namespace medvault::raft {

class SnapshotStaging {
 public:
  // `kv` must hold RaftColumnFamilies() and `state_cfs`, and outlive this object. `applied_key`
  // is where the state machine keeps its applied position in "raft_meta".
  SnapshotStaging(KvStore* kv, std::vector<std::string> state_cfs, std::string applied_key)
      : kv_(kv), state_cfs_(std::move(state_cfs)), applied_key_(std::move(applied_key)) {}

  // Receiving, one stream at a time (the caller serialises streams).
  // Drops whatever an earlier stream staged.
  absl::Status Begin();
  // Stages one piece (RaftBackupPiece's format: the first carries the position, the last `last`
  // and the count of records). Returns true once the last piece made the staged snapshot
  // complete. INVALID_ARGUMENT for a piece out of place or a record this state machine does not
  // replicate, DATA_LOSS when the last piece counts records that never came.
  absl::StatusOr<bool> Add(const v1::RaftBackupPiece& piece);
  // Position of the snapshot being staged (set by its first piece).
  SnapshotMeta meta() const;

  // Replaces the state's column families by the complete staged snapshot at `meta` and records
  // `meta` as the applied position (see the file comment). FAILED_PRECONDITION when no complete
  // snapshot is staged at that position. The caller excludes applies meanwhile.
  absl::Status Install(const SnapshotMeta& meta);
  // Finishes an install that a crash interrupted; OK (nothing done) when there was none.
  absl::Status Recover();

  // Tests: Install fails (as a crash would stop it) after this many batches of the copy.
  void FailInstallAfterBatchesForTest(int batches) { fail_after_batches_ = batches; }

 private:
  absl::Status CopyAndFinish(const SnapshotMeta& meta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ClearState(rocksdb::WriteBatch* batch) const;

  KvStore* const kv_;
  const std::vector<std::string> state_cfs_;
  const std::string applied_key_;
  int fail_after_batches_ = -1;
  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool complete_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotMeta meta_ ABSL_GUARDED_BY(mu_);
  uint64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  size_t unflushed_ ABSL_GUARDED_BY(mu_) = 0;  // staged since the last flush
};

}  // namespace medvault::raft
