#include "raft/testing/local_group.h"

#include <filesystem>

#include "common/rpc.h"

namespace medvault::raft::testing {
namespace {

std::vector<std::string> Families() {
  std::vector<std::string> cfs = RaftColumnFamilies();
  cfs.push_back("data");
  return cfs;
}

}  // namespace

LocalGroup::LocalGroup(LocalGroupOptions options) : options_(std::move(options)) {
  for (int i = 1; i <= options_.replicas; ++i) {
    auto& r = replicas_[i];
    if (options_.root.empty()) {
      temp_dirs_.push_back(std::make_unique<medvault::testing::TempDir>());
      r.dir = temp_dirs_.back()->path();
    } else {
      r.dir = options_.root + "/replica-" + std::to_string(i);
      std::filesystem::create_directories(r.dir);
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &r.port);
    r.service_holder = std::make_unique<ServiceHolder>();
    builder.RegisterService(&r.service_holder->service);
    r.server = builder.BuildAndStart();
    auto* m = config_.add_members();
    m->set_id(i);
    m->set_address("127.0.0.1:" + std::to_string(r.port));
  }
  for (auto& [id, r] : replicas_) (void)Start(id, /*bootstrap=*/true);
}

LocalGroup::~LocalGroup() {
  for (auto& [id, r] : replicas_) {
    if (r.node) Stop(id);
    r.server->Shutdown();
  }
}

absl::Status LocalGroup::Start(uint64_t id, bool bootstrap) {
  auto& r = replicas_.at(id);
  absl::StatusOr<std::unique_ptr<KvStore>> kv = KvStore::Open(r.dir + "/db", Families());
  if (!kv.ok()) return kv.status();
  r.kv = std::move(*kv);
  absl::StatusOr<std::unique_ptr<RocksLogStorage>> storage = RocksLogStorage::Open(r.kv.get());
  if (!storage.ok()) return storage.status();
  r.storage = std::move(*storage);
  absl::StatusOr<std::unique_ptr<KvStateMachine>> machine =
      KvStateMachine::Open(r.kv.get(), {"data"});
  if (!machine.ok()) return machine.status();
  r.machine = std::move(*machine);
  if (bootstrap && r.storage->empty()) {
    absl::Status founded = RaftNode::Bootstrap(r.storage.get(), r.machine.get(), config_);
    if (!founded.ok()) return founded;
  }
  r.transport = std::make_unique<GrpcTransport>(
      [](const std::string& a) {
        return MakeChannel(a, TransportSecurity::InsecurePlaintext(), "");
      },
      options_.stream_above_bytes);
  if (options_.stream_snapshots) {
    KvStateMachine* machine = r.machine.get();
    SnapshotStreamer streamer =
        [machine](size_t piece_bytes,
                  const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
          return machine->StreamSnapshot(piece_bytes, emit);
        };
    if (options_.wrap_streamer) streamer = options_.wrap_streamer(std::move(streamer));
    r.transport->set_snapshot_streamer(std::move(streamer));
  }
  r.gate = std::make_unique<GatedTransport>(r.transport.get(), &r.service_holder->isolated);
  NodeOptions o;
  o.id = id;
  o.lease_reads = options_.lease_reads;
  o.tick = options_.tick;
  o.election_ticks = options_.election_ticks;
  o.seed = id;
  o.compact_after_entries = options_.compact_after;
  o.stream_snapshots = options_.stream_snapshots;
  for (const auto& m : config_.members()) o.peers[m.id()] = m.address();
  NodeObserver observer = options_.observer;
  auto next = observer.on_status;
  observer.on_status = [this, next](const NodeStatus& st) {
    if (next) next(st);
    std::lock_guard<std::mutex> lock(mu_);
    ++events_;
    cv_.notify_all();
  };
  r.node = std::make_unique<RaftNode>(o, r.storage.get(), r.machine.get(), r.gate.get(), observer);
  r.service_holder->service_impl = std::make_unique<RaftServiceImpl>(r.node.get());
  r.service_holder->service_impl->set_snapshot_staging(r.machine->staging());
  r.service_holder->Attach(r.service_holder->service_impl.get());
  return r.node->Start();
}

void LocalGroup::Isolate(uint64_t id, bool isolated) {
  replicas_.at(id).service_holder->isolated = isolated;
}

void LocalGroup::Stop(uint64_t id) {
  auto& r = replicas_.at(id);
  r.service_holder->Detach();  // no call of the old service outlives what it uses
  r.node->Stop();
  r.node.reset();
  r.gate.reset();
  r.transport.reset();
  r.machine.reset();
  r.storage.reset();
  r.kv.reset();
}

grpc::Status LocalGroup::ServiceHolder::Call(
    grpc::ServerContext* c, const std::function<grpc::Status(RaftServiceImpl*)>& call) {
  RaftServiceImpl* t = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (target != nullptr && !isolated.load()) {
      t = target;
      running.insert(c);
    }
  }
  if (t == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica down");
  grpc::Status status = call(t);
  std::lock_guard<std::mutex> lock(mu);
  running.erase(c);
  idle.notify_all();
  return status;
}

void LocalGroup::ServiceHolder::Attach(RaftServiceImpl* next) {
  std::lock_guard<std::mutex> lock(mu);
  target = next;
}

void LocalGroup::ServiceHolder::Detach() {
  std::unique_lock<std::mutex> lock(mu);
  target = nullptr;
  for (grpc::ServerContext* c : running) c->TryCancel();
  idle.wait(lock, [&] { return running.empty(); });
}

void LocalGroup::Wipe(uint64_t id) { std::filesystem::remove_all(replicas_.at(id).dir + "/db"); }

bool LocalGroup::WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(mu_);
  while (std::chrono::steady_clock::now() < deadline) {
    const uint64_t seen = events_;
    lock.unlock();
    if (pred()) return true;
    lock.lock();
    cv_.wait_until(lock, deadline, [&] { return events_ != seen; });
  }
  return false;
}

uint64_t LocalGroup::WaitForLeader(absl::Duration timeout) {
  uint64_t leader = 0;
  WaitFor(
      [&] {
        for (auto& [id, r] : replicas_) {
          if (r.node && r.node->IsLeader()) leader = id;
        }
        return leader != 0;
      },
      timeout);
  return leader;
}

std::string LocalGroup::PutCommand(uint64_t via, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  batch.Put(kv(via).cf("data"), key, value);
  return *machine(via).EncodeCommand(batch);
}

absl::Status LocalGroup::Put(uint64_t via, const std::string& key, const std::string& value,
                             absl::Duration timeout) {
  return node(via).Propose(PutCommand(via, key, value), timeout);
}

}  // namespace medvault::raft::testing
