// In-process groups of real RaftNodes: RocksDB on disk, gRPC over loopback, real time. Tests wait
// for events reported by the nodes (status callbacks), never for fixed sleeps.
#include "raft/node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/kv.h"
#include "common/rpc.h"
#include "common/testing/temp_dir.h"
#include "raft/grpc_transport.h"
#include "raft/kv_state_machine.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

std::vector<std::string> Families() {
  std::vector<std::string> cfs = RaftColumnFamilies();
  cfs.push_back("data");
  return cfs;
}

std::string PutCommand(KvStateMachine* sm, KvStore* kv, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  batch.Put(kv->cf("data"), key, value);
  return *sm->EncodeCommand(batch);
}

class Group {
 public:
  explicit Group(int n, uint64_t compact_after = 10000) : compact_after_(compact_after) {
    for (int i = 1; i <= n; ++i) {
      auto& r = replicas_[i];
      r.dir = std::make_unique<medvault::testing::TempDir>();
      grpc::ServerBuilder builder;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &r.port);
      r.service_holder = std::make_unique<ServiceHolder>();
      builder.RegisterService(&r.service_holder->service);
      r.server = builder.BuildAndStart();
      config_.add_members()->set_id(i);
      config_.mutable_members(i - 1)->set_address("127.0.0.1:" + std::to_string(r.port));
    }
    for (auto& [id, r] : replicas_) Start(id, /*bootstrap=*/true);
  }

  ~Group() {
    for (auto& [id, r] : replicas_) {
      if (r.node) r.node->Stop();
      r.server->Shutdown();
    }
  }

  void Start(uint64_t id, bool bootstrap) {
    auto& r = replicas_[id];
    r.kv = std::move(*KvStore::Open(r.dir->path() + "/db", Families()));
    r.storage = std::move(*RocksLogStorage::Open(r.kv.get()));
    r.machine = std::move(*KvStateMachine::Open(r.kv.get(), {"data"}));
    if (bootstrap && r.storage->empty()) ASSERT_TRUE(RaftNode::Bootstrap(r.storage.get(), r.machine.get(), config_).ok());
    r.transport = std::make_unique<GrpcTransport>(
        [](const std::string& a) { return MakeChannel(a, TransportSecurity::InsecurePlaintext(), ""); });
    NodeOptions o;
    o.id = id;
    o.tick = absl::Milliseconds(20);
    o.seed = id;
    o.compact_after_entries = compact_after_;
    for (const auto& m : config_.members()) o.peers[m.id()] = m.address();
    NodeObserver observer;
    observer.on_status = [this](const NodeStatus&) {
      std::lock_guard<std::mutex> lock(mu_);
      ++events_;
      cv_.notify_all();
    };
    r.node = std::make_unique<RaftNode>(o, r.storage.get(), r.machine.get(), r.transport.get(), observer);
    r.service_holder->service_impl = std::make_unique<RaftServiceImpl>(r.node.get());
    r.service_holder->target = r.service_holder->service_impl.get();
    ASSERT_TRUE(r.node->Start().ok());
  }

  void Stop(uint64_t id) {
    auto& r = replicas_[id];
    r.service_holder->target = nullptr;
    r.node->Stop();
    r.node.reset();
    r.transport.reset();
    r.machine.reset();
    r.storage.reset();
    r.kv.reset();
  }

  void Wipe(uint64_t id) {
    std::filesystem::remove_all(replicas_[id].dir->path() + "/db");
  }

  // Waits until `pred` holds, re-checking whenever any node reports a status change.
  bool WaitFor(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::unique_lock<std::mutex> lock(mu_);
    while (std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      if (pred()) return true;
      lock.lock();
      const uint64_t seen = events_;
      cv_.wait_until(lock, deadline, [&] { return events_ != seen; });
    }
    return false;
  }

  uint64_t WaitForLeader() {
    uint64_t leader = 0;
    WaitFor([&] {
      for (auto& [id, r] : replicas_) {
        if (r.node && r.node->IsLeader()) leader = id;
      }
      return leader != 0;
    });
    return leader;
  }

  RaftNode& node(uint64_t id) { return *replicas_.at(id).node; }
  KvStore& kv(uint64_t id) { return *replicas_.at(id).kv; }
  KvStateMachine& machine(uint64_t id) { return *replicas_.at(id).machine; }
  RocksLogStorage& storage(uint64_t id) { return *replicas_.at(id).storage; }

  absl::Status Put(uint64_t via, const std::string& key, const std::string& value) {
    return node(via).Propose(PutCommand(&machine(via), &kv(via), key, value), kTimeout);
  }

 private:
  // Forwards to the current node's service so a replica can be stopped and restarted behind one
  // listening port.
  struct ServiceHolder {
    class Forwarder final : public v1::RaftService::Service {
     public:
      explicit Forwarder(ServiceHolder* h) : h_(h) {}
      grpc::Status Send(grpc::ServerContext* c, const v1::RaftMessageBatch* req, v1::RaftMessageAck* resp) override {
        RaftServiceImpl* target = h_->target;
        if (target == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica down");
        return target->Send(c, req, resp);
      }

     private:
      ServiceHolder* h_;
    };
    ServiceHolder() : service(this) {}
    Forwarder service;
    std::unique_ptr<RaftServiceImpl> service_impl;
    std::atomic<RaftServiceImpl*> target{nullptr};
  };
  struct Replica {
    std::unique_ptr<medvault::testing::TempDir> dir;
    int port = 0;
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<ServiceHolder> service_holder;
    std::unique_ptr<KvStore> kv;
    std::unique_ptr<RocksLogStorage> storage;
    std::unique_ptr<KvStateMachine> machine;
    std::unique_ptr<GrpcTransport> transport;
    std::unique_ptr<RaftNode> node;
  };
  const uint64_t compact_after_;
  Config config_;
  std::map<uint64_t, Replica> replicas_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t events_ = 0;
};

TEST(RaftNode, ReplicatesThroughTheLeaderAndRefusesOnFollowers) {
  Group g(3);
  const uint64_t leader = g.WaitForLeader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(g.Put(leader, "k", "v").ok());
  ASSERT_TRUE(g.node(leader).ReadBarrier(kTimeout).ok());
  EXPECT_EQ(*g.kv(leader).Get("data", "k"), "v");

  const uint64_t follower = leader % 3 + 1;
  absl::Status refused = g.Put(follower, "k", "w");
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_NE(refused.message().find("leader is 127.0.0.1:"), std::string::npos) << refused;
  EXPECT_TRUE(absl::IsUnavailable(g.node(follower).ReadBarrier(kTimeout)));
  // Every replica applies the write.
  EXPECT_TRUE(g.WaitFor([&] {
    for (uint64_t id : {1, 2, 3}) {
      absl::StatusOr<std::string> v = g.kv(id).Get("data", "k");
      if (!v.ok() || *v != "v") return false;
    }
    return true;
  }));
}

TEST(RaftNode, SurvivesTheLeaderStoppingAndTheOldLeaderCatchesUp) {
  Group g(3);
  const uint64_t first = g.WaitForLeader();
  ASSERT_TRUE(g.Put(first, "a", "1").ok());
  g.Stop(first);
  const uint64_t second = g.WaitForLeader();
  ASSERT_NE(second, 0u);
  ASSERT_NE(second, first);
  ASSERT_TRUE(g.Put(second, "b", "2").ok());
  g.Start(first, /*bootstrap=*/true);  // not empty: bootstrap is skipped, state is kept
  EXPECT_TRUE(g.WaitFor([&] {
    absl::StatusOr<std::string> b = g.kv(first).Get("data", "b");
    return b.ok() && *b == "2";
  }));
  EXPECT_EQ(*g.kv(first).Get("data", "a"), "1");
}

TEST(RaftNode, WipedReplicaRejoinsFromASnapshot) {
  Group g(3, /*compact_after=*/5);
  const uint64_t leader = g.WaitForLeader();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(g.Put(leader, "k" + std::to_string(i), "v").ok());
  ASSERT_GT(g.storage(leader).FirstIndex(), 1u) << "the leader's log must be compacted for this test";
  const uint64_t wiped = leader % 3 + 1;
  g.Stop(wiped);
  g.Wipe(wiped);
  g.Start(wiped, /*bootstrap=*/false);
  EXPECT_TRUE(g.WaitFor([&] {
    absl::StatusOr<std::string> v = g.kv(wiped).Get("data", "k29");
    return v.ok() && *v == "v";
  }));
  EXPECT_GT(g.storage(wiped).snapshot_meta().index(), 0u) << "caught up from a snapshot, not the log";
  EXPECT_EQ(g.machine(wiped).Applied().config().members_size(), 3);
}

TEST(RaftNode, AddsAndRemovesAMember) {
  Group g(3);
  const uint64_t leader = g.WaitForLeader();
  ASSERT_TRUE(g.Put(leader, "x", "1").ok());
  const uint64_t victim = leader % 3 + 1;
  ASSERT_TRUE(g.node(leader).RemoveMember(victim, kTimeout).ok());
  EXPECT_EQ(g.node(leader).Membership().members_size(), 2);
  EXPECT_TRUE(absl::IsNotFound(g.node(leader).RemoveMember(victim, kTimeout)));
  ASSERT_TRUE(g.Put(leader, "y", "2").ok()) << "two of two still commit";
}

}  // namespace
}  // namespace medvault::raft
