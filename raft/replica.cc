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
    absl::StatusOr<std::unique_ptr<RestoreSource>> source = options.restore();
    if (!source.ok()) return source.status();
    std::function<bool(const v1::RaftKvWrite&)> drop = [](const v1::RaftKvWrite&) { return false; };
    if (options.restore_filter) {
      absl::StatusOr<std::function<bool(const v1::RaftKvWrite&)>> filter =
          options.restore_filter((*source)->taken_unix_micros());
      if (!filter.ok()) return filter.status();
      drop = *std::move(filter);
    }
    // First the whole backup is read through: it authenticates to its last segment and holds this
    // group complete before a record of it is written. Then it is read again into the state's
    // column families (RestoreStream): the state only, the new group starts its own log at index 0
    // with its own membership. A crash in between leaves the Raft log empty, so the next start
    // restores again from the beginning.
    SnapshotMeta taken;
    absl::Status checked =
        (*source)->ForEach([](const v1::RaftKvWrite&) { return absl::OkStatus(); }, &taken);
    if (!checked.ok()) return checked;
    absl::Status restored = r->machine_->RestoreStream(
        [&](const std::function<absl::Status(const v1::RaftKvWrite&)>& write) {
          return (*source)->ForEach(
              [&](const v1::RaftKvWrite& w) { return drop(w) ? absl::OkStatus() : write(w); },
              &taken);
        });
    if (!restored.ok()) return restored;
    if (options.after_restore) {
      if (absl::Status s = options.after_restore((*source)->taken_unix_micros()); !s.ok()) return s;
    }
    MV_LOG(INFO) << options.service << " replica " << options.id << " restored the state of a "
                 << "backup taken at index " << taken.index();
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
  // A follower behind the compacted log is sent the state streamed, never whole in memory.
  KvStateMachine* state = r->machine_.get();
  r->transport_->set_snapshot_streamer(
      [state](size_t piece_bytes,
              const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
        return state->StreamSnapshot(piece_bytes, emit);
      });
  NodeOptions no;
  no.id = options.id;
  no.tick = options.tick;
  no.election_ticks = options.election_ticks;
  no.compact_after_entries = options.compact_after_entries;
  no.lease_reads = options.lease_reads;
  no.peers = peers;
  no.stream_snapshots = true;
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
  r->service_->set_snapshot_staging(state->staging());
  r->writer_ =
      std::make_unique<ReplicatedWriter>(r->node_.get(), r->machine_.get(), options.write_timeout);
  return r;
}

}  // namespace medvault::raft
