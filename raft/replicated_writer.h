// How a service's core writes and reads through a Raft group: a batch planned from local state is
// replicated (and applied here) before Write() returns, and Barrier() makes local state current
// before the next plan or a linearizable read. Services adapt this to their own writer seam.
#pragma once

#include <rocksdb/write_batch.h>

#include <mutex>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/kv.h"
#include "raft/kv_state_machine.h"
#include "raft/node.h"

namespace medvault::raft {

// What a service asks of its replica before serving: is it the leader, is its state current.
class ReplicaGate {
 public:
  virtual ~ReplicaGate() = default;
  // See ReplicatedWriter::Barrier / RequireLeader.
  virtual absl::Status Barrier() = 0;
  virtual absl::Status RequireLeader() const = 0;
  // Current term (0 when unknown): a change means leadership may have moved.
  virtual uint64_t Term() const = 0;
};

// A gate for an unreplicated service (tests, tools): always the leader, always current.
class SoleReplica : public ReplicaGate {
 public:
  absl::Status Barrier() override { return absl::OkStatus(); }
  absl::Status RequireLeader() const override { return absl::OkStatus(); }
  uint64_t Term() const override { return 1; }
};

class ReplicatedWriter : public ReplicaGate {
 public:
  // `node` and `machine` must outlive the writer. Each call waits at most `timeout`.
  ReplicatedWriter(RaftNode* node, KvStateMachine* machine, absl::Duration timeout)
      : node_(node), machine_(machine), timeout_(timeout) {}

  // Replicates `batch` and returns once it is applied on this replica. UNAVAILABLE when this
  // replica is not the leader or the group did not commit in time (the batch may still commit:
  // the next Barrier() waits for it).
  absl::Status Write(const rocksdb::WriteBatch& batch);
  // Returns once this replica leads and has applied everything committed (and everything it
  // proposed itself) before the call. UNAVAILABLE otherwise.
  absl::Status Barrier() override;
  // UNAVAILABLE (naming the leader) unless this replica leads: for operations that depend on
  // leader-only state, like chunk-server liveness.
  absl::Status RequireLeader() const override;
  uint64_t Term() const override { return node_->Status().term; }

 private:
  RaftNode* const node_;
  KvStateMachine* const machine_;
  const absl::Duration timeout_;
};

// A service core's KvWriter (common/kv.h) backed by the group.
class ReplicatedKvWriter : public KvWriter {
 public:
  explicit ReplicatedKvWriter(ReplicatedWriter* writer) : writer_(writer) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override { return writer_->Write(*batch); }
  absl::Status Barrier() override { return writer_->Barrier(); }

 private:
  ReplicatedWriter* const writer_;
};

}  // namespace medvault::raft
