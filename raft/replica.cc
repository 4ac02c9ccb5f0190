#include "raft/replica.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "raft/group_flags.h"

namespace medvault::raft {

Replica::~Replica() {
  if (node_) node_->Stop();
}

void Replica::HandOffLeadership(absl::Duration timeout) {
  if (!node_->IsLeader() || node_->Membership().members_size() < 2) return;
  absl::StatusOr<uint64_t> next = node_->TransferLeadership(0, timeout);
  if (next.ok()) {
    MV_LOG(INFO) << "stopping: handed leadership to replica " << *next;
  } else {
    MV_LOG(WARNING) << "stopping without handing off leadership: " << next.status();
  }
}

absl::StatusOr<std::unique_ptr<Replica>> Replica::Open(KvStore* kv,
                                                       std::vector<std::string> state_cfs,
                                                       const ReplicaOptions& options,
                                                       prometheus::Registry& metrics) {
  std::unique_ptr<Replica> r(new Replica());
  std::map<uint64_t, std::string> peers;
  bool bootstrap = options.bootstrap;
  if (options.peers.empty()) {
    peers[options.id] = options.listen;  // a group of one founds itself
    bootstrap = true;
  } else {
    absl::StatusOr<std::map<uint64_t, std::string>> parsed = ParsePeers(options.peers);
    if (!parsed.ok()) return parsed.status();
    peers = std::move(*parsed);
    if (peers.count(options.id) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--raft_id ", options.id, " is not in --raft_peers"));
    }
  }
  absl::StatusOr<std::unique_ptr<RocksLogStorage>> storage = RocksLogStorage::Open(kv);
  if (!storage.ok()) return storage.status();
  r->storage_ = std::move(*storage);
  absl::StatusOr<std::unique_ptr<KvStateMachine>> machine =
      KvStateMachine::Open(kv, std::move(state_cfs));
  if (!machine.ok()) return machine.status();
  r->machine_ = std::move(*machine);
  if (r->storage_->empty() && options.restore) {
    absl::StatusOr<RestoredState> seed = options.restore();
    if (!seed.ok()) return seed.status();
    if (options.restore_filter) {
      if (absl::Status s = options.restore_filter(&*seed); !s.ok()) return s;
    }
    // The state only: the new group starts its own log at index 0 with its own membership.
    Snapshot state;
    state.set_data(std::move(*seed->snapshot.mutable_data()));
    absl::Status restored = r->machine_->Restore(state);
    if (!restored.ok()) return restored;
    if (options.after_restore) {
      if (absl::Status s = options.after_restore(seed->taken_unix_micros); !s.ok()) return s;
    }
    MV_LOG(INFO) << options.service << " replica " << options.id << " restored the state of a "
                 << "backup taken at index " << seed->snapshot.meta().index();
    bootstrap = true;
  }
  if (r->storage_->empty()) {
    if (bootstrap) {
      absl::Status founded =
          RaftNode::Bootstrap(r->storage_.get(), r->machine_.get(), MembershipOf(peers));
      if (!founded.ok()) return founded;
      MV_LOG(INFO) << options.service << " replica " << options.id << " founded a group of "
                   << peers.size();
    } else {
      MV_LOG(INFO) << options.service << " replica " << options.id
                   << " has no Raft state: waiting for the group's leader to send it a snapshot";
    }
  }
  r->metrics_ = std::make_unique<RaftMetrics>(metrics, options.service);
  if (!options.channels)
    return absl::InvalidArgumentError("no channel factory for fellow replicas");
  r->transport_ = std::make_unique<GrpcTransport>(options.channels);
  NodeOptions no;
  no.id = options.id;
  no.tick = options.tick;
  no.election_ticks = options.election_ticks;
  no.compact_after_entries = options.compact_after_entries;
  no.lease_reads = options.lease_reads;
  no.peers = peers;
  no.seed = std::random_device()();
  const std::string service = options.service;
  const uint64_t id = options.id;
  auto last_role = std::make_shared<Role>(Role::kFollower);
  r->node_ = std::make_unique<RaftNode>(
      no, r->storage_.get(), r->machine_.get(), r->transport_.get(),
      r->metrics_->Observer([service, id, last_role](const NodeStatus& st) {
        if (st.role != *last_role) {
          MV_LOG(INFO) << service << " replica " << id << " is now " << RoleName(st.role)
                       << " in term " << st.term;
          *last_role = st.role;
        }
      }));
  AccessPolicy policy = RaftServicePolicy(options.service);
  r->service_ = std::make_unique<RaftServiceImpl>(
      r->node_.get(),
      std::make_unique<Authorizer>(absl::StrCat(options.service, "_raft"), std::move(policy),
                                   options.enforce_access, metrics));
  r->writer_ =
      std::make_unique<ReplicatedWriter>(r->node_.get(), r->machine_.get(), options.write_timeout);
  return r;
}

}  // namespace medvault::raft
