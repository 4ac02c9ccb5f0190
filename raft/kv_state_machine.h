// A StateMachine over some column families of a RocksDB database: commands are RaftKvBatch writes
// (made from the rocksdb::WriteBatch a service core planned), snapshots are every key of those
// column families. The applied position lives in "raft_meta" and is written in the same batch as
// the entries it covers.
#pragma once

#include <rocksdb/write_batch.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"
#include "medvault/v1/raft.pb.h"
#include "raft/snapshot_staging.h"
#include "raft/state_machine.h"

namespace medvault::raft {

// Rewrites committed commands as they are applied, e.g. to chain the key service's audit records
// in the order the group commits them (keyservice/core/audit_chain.h). Called on the Raft thread
// under the machine's lock, in log order, on every replica: must be deterministic (the same
// commands on the same state give the same writes everywhere).
class CommandRewriter {
 public:
  virtual ~CommandRewriter() = default;
  // Called for each committed command before its writes join the apply batch; may change or add
  // writes (to replicated column families). An error rejects the command, identically everywhere.
  virtual absl::Status Rewrite(v1::RaftKvBatch* command) = 0;
  // The command last passed to Rewrite() was rejected after all: forget what it did.
  virtual void Undo() = 0;
  // The apply batch holding every command rewritten since the last call was written (true), or
  // could not be (false: the node stops, nothing of it happened).
  virtual void Settle(bool written) = 0;
  // A snapshot replaced the state: reload whatever was derived from it.
  virtual void Reload() = 0;
};

class KvStateMachine : public StateMachine {
 public:
  // `kv` must hold `state_cfs` and RaftColumnFamilies(); it must outlive this object. Applies are
  // written without a sync (see Apply), which is safe only while the Raft log is kept in this same
  // database by a storage that writes synchronously (RocksLogStorage), or is itself volatile.
  static absl::StatusOr<std::unique_ptr<KvStateMachine>> Open(KvStore* kv,
                                                              std::vector<std::string> state_cfs);

  // Turns a planned WriteBatch into a command. INVALID_ARGUMENT for a write to a column family this
  // state machine does not replicate, or an operation it does not support (merge, single delete).
  absl::StatusOr<std::string> EncodeCommand(const rocksdb::WriteBatch& batch) const;

  SnapshotMeta Applied() const override;
  absl::StatusOr<std::vector<absl::Status>> Apply(const std::vector<Entry>& entries) override;
  absl::StatusOr<Snapshot> TakeSnapshot() override;
  absl::Status StreamSnapshot(
      size_t piece_bytes,
      const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) override;
  // A snapshot marked `staged` carries no data: the state waits, complete, in staging() and is
  // switched in from there (SnapshotStaging::Install).
  absl::Status Restore(const Snapshot& snapshot) override;
  // Where a snapshot streamed from the leader is received before Restore switches it in.
  SnapshotStaging* staging() { return &staging_; }
  // Replaces the whole state by the records `read` passes to the function it is given (a backup
  // being read, --restore_backup), written in bounded batches, with the applied position of a new
  // group (index 0) written last, synced. An error leaves any part of the records written: the
  // caller starts over (a replica restores only while its Raft log is empty).
  absl::Status RestoreStream(
      const std::function<
          absl::Status(const std::function<absl::Status(const v1::RaftKvWrite&)>& write)>& read);
  absl::Status Initialize(const v1::RaftConfig& config) override;

  // Called (outside any lock) after a snapshot replaced the state, so caches can reload.
  void set_on_restore(std::function<void()> fn) { on_restore_ = std::move(fn); }
  // Called, after the apply batch is written (durable through the log), once per key a command
  // deleted (DELETE only), with the column family name. Runs on the Raft thread under this
  // machine's lock: it must only take note (the key service queues destroyed keys for shredding).
  // Set before the node starts.
  void set_on_delete(std::function<void(const std::string& cf, const std::string& key)> fn) {
    on_delete_ = std::move(fn);
  }
  // Rewrites every committed command before it is applied (may be null). Must outlive this
  // machine. Set before the node starts.
  void set_rewriter(CommandRewriter* rewriter) { rewriter_ = rewriter; }

 private:
  KvStateMachine(KvStore* kv, std::vector<std::string> state_cfs);
  absl::Status AddWrite(const v1::RaftKvWrite& w, rocksdb::WriteBatch* batch) const;
  bool Replicated(const std::string& cf) const;

  KvStore* const kv_;
  const std::vector<std::string> state_cfs_;
  std::function<void()> on_restore_;
  std::function<void(const std::string&, const std::string&)> on_delete_;
  CommandRewriter* rewriter_ = nullptr;
  SnapshotStaging staging_;
  mutable absl::Mutex mu_;
  SnapshotMeta applied_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::raft
