// Everything a replicated service process owns for its Raft replica, wired from its flags: the log
// and state machine in the service's RocksDB, the node, the gRPC transport and RaftService,
// metrics, and the writer its core uses. Shared by metaserver and keyservice mains.
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/kv.h"
#include "raft/grpc_transport.h"
#include "raft/kv_state_machine.h"
#include "raft/node.h"
#include "raft/raft_metrics.h"
#include "raft/replicated_writer.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft {

// A group's state in a backup (--restore_backup), read as a stream: never whole in memory.
class RestoreSource {
 public:
  virtual ~RestoreSource() = default;
  // When the backup was started.
  virtual int64_t taken_unix_micros() const = 0;
  // Reads the backup through from its start, passing each record of this group's state to
  // `write`, and sets `meta` to the position the state was taken at. OK only when the whole file
  // authenticated and the group was complete (DATA_LOSS otherwise, NOT_FOUND when the backup holds
  // no state of this group); `write` may already have seen records by then.
  virtual absl::Status ForEach(const std::function<absl::Status(const v1::RaftKvWrite&)>& write,
                               SnapshotMeta* meta) = 0;
};

struct ReplicaOptions {
  std::string service;     // "metaserver", "keyservice": names metrics and log lines
  uint64_t id = 1;         // --raft_id
  std::string peers;       // --raft_peers "1=host:port,..."; empty: a group of one
  bool bootstrap = false;  // --raft_bootstrap: found a new group from --raft_peers if empty here
  std::string listen;      // this process's gRPC address (the group of one's member address)
  absl::Duration tick = absl::Milliseconds(100);
  int election_ticks = 10;
  uint64_t compact_after_entries = 10000;
  bool lease_reads = true;  // --raft_lease_reads (NodeOptions::lease_reads)
  absl::Duration write_timeout = absl::Seconds(5);
  // Channels to fellow replicas (with the service's transport security). Required.
  ChannelFactory channels;
  // Accept Raft messages only from callers whose certificate role is `service` (fellow replicas);
  // false only for a plaintext (--insecure_plaintext) process, which has no identities.
  bool enforce_access = false;
  // --restore_backup: when set and this replica holds no Raft state, the state a new group starts
  // from (a backup's snapshot of this group); the replica then founds the group from `peers`, as
  // --raft_bootstrap does. Every founding replica must be given the same state.
  std::function<absl::StatusOr<std::unique_ptr<RestoreSource>>()> restore;
  // Given the backup's start time, which records of the restored state to leave out (may be null;
  // an error refuses the restore): the key service drops the keys destroyed after the backup was
  // taken.
  std::function<absl::StatusOr<std::function<bool(const v1::RaftKvWrite&)>>(int64_t taken_micros)>
      restore_filter;
  // Run once the restored state is installed in the service's column families, before the group
  // is founded (may be null), with the backup's start time: the metaserver removes from its index
  // every object whose key was destroyed after the backup. It writes straight to the store; every
  // founding replica runs it on the same state, so all of them hold the same result. A crash
  // before the founding runs the restore and this again at the next start.
  std::function<absl::Status(int64_t taken_unix_micros)> after_restore;
};

class Replica {
 public:
  // `kv` must hold RaftColumnFamilies() and `state_cfs`, and outlive the replica.
  static absl::StatusOr<std::unique_ptr<Replica>> Open(KvStore* kv,
                                                       std::vector<std::string> state_cfs,
                                                       const ReplicaOptions& options,
                                                       prometheus::Registry& metrics);
  ~Replica();

  absl::Status Start() { return node_->Start(); }
  void Stop() { node_->Stop(); }
  // Before a planned stop (SIGTERM): when this replica leads a group with other voters, hands
  // leadership to the most caught-up one and waits up to `timeout` for it to take over, so the
  // group is without a leader for a round trip rather than an election timeout. Best effort: the
  // outcome is logged, and the process stops either way.
  void HandOffLeadership(absl::Duration timeout);

  RaftNode* node() { return node_.get(); }
  KvStateMachine* machine() { return machine_.get(); }
  ReplicatedWriter* writer() { return writer_.get(); }
  grpc::Service* service() { return service_.get(); }

 private:
  Replica() = default;

  std::unique_ptr<RocksLogStorage> storage_;
  std::unique_ptr<KvStateMachine> machine_;
  std::unique_ptr<RaftMetrics> metrics_;
  std::unique_ptr<GrpcTransport> transport_;
  std::unique_ptr<RaftNode> node_;
  std::unique_ptr<RaftServiceImpl> service_;
  std::unique_ptr<ReplicatedWriter> writer_;
};

}  // namespace medvault::raft
