// A Raft group of real RaftNodes in one process: RocksDB on disk, gRPC over loopback (plaintext),
// real time. For in-process tests and benchmarks; waits are driven by the nodes' status events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/kv.h"
#include "common/testing/temp_dir.h"
#include "raft/grpc_transport.h"
#include "raft/kv_state_machine.h"
#include "raft/node.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft::testing {

struct LocalGroupOptions {
  int replicas = 3;
  uint64_t compact_after = 10000;
  absl::Duration tick = absl::Milliseconds(20);
  int election_ticks = 10;
  // Parent of the replicas' directories (empty: a temporary directory per replica).
  std::string root;
  // Called with every node's latency observations (may be empty).
  NodeObserver observer;
  // Batches above this size are streamed in pieces (GrpcTransport); small in tests that want the
  // streaming path without a large state.
  size_t stream_above_bytes = GrpcTransport::kDefaultStreamAboveBytes;
  bool lease_reads = true;  // NodeOptions::lease_reads
  // NodeOptions::stream_snapshots: snapshots go through RaftService.InstallSnapshot in pieces.
  bool stream_snapshots = false;
  // Wraps each leader's snapshot streamer (may be null), so a test can cut a transfer short.
  std::function<SnapshotStreamer(SnapshotStreamer)> wrap_streamer;
};

// The replicated state machine holds one column family, "data".
class LocalGroup {
 public:
  explicit LocalGroup(LocalGroupOptions options = {});
  ~LocalGroup();

  // (Re)starts replica `id`; `bootstrap` founds the group if its storage is empty.
  absl::Status Start(uint64_t id, bool bootstrap);
  void Stop(uint64_t id);
  // Cuts (or restores) every message to and from replica `id`, which keeps running.
  void Isolate(uint64_t id, bool isolated);
  // Deletes a stopped replica's database.
  void Wipe(uint64_t id);

  // Waits (up to `timeout`) until `pred` holds, re-checking whenever a node reports a status
  // change.
  bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(20));
  // The leader's id once one is elected (0 on timeout).
  uint64_t WaitForLeader(absl::Duration timeout = absl::Seconds(20));

  RaftNode& node(uint64_t id) { return *replicas_.at(id).node; }
  bool running(uint64_t id) const { return replicas_.at(id).node != nullptr; }
  KvStore& kv(uint64_t id) { return *replicas_.at(id).kv; }
  KvStateMachine& machine(uint64_t id) { return *replicas_.at(id).machine; }
  RocksLogStorage& storage(uint64_t id) { return *replicas_.at(id).storage; }
  // Batches replica `id`'s current node received streamed in pieces.
  uint64_t large_batches_received(uint64_t id) {
    return replicas_.at(id).service_holder->service_impl->large_batches_received();
  }
  // Streamed snapshots replica `id`'s current transport delivered.
  uint64_t snapshots_sent(uint64_t id) { return replicas_.at(id).transport->snapshots_sent(); }

  // A command putting key=value into "data".
  std::string PutCommand(uint64_t via, const std::string& key, const std::string& value);
  absl::Status Put(uint64_t via, const std::string& key, const std::string& value,
                   absl::Duration timeout = absl::Seconds(20));

 private:
  // Forwards to the current node's service so a replica can be stopped and restarted behind one
  // listening port. Stopping a replica detaches it: calls still running on its service (a
  // snapshot stream may run for seconds) are cancelled and waited for, so none outlives the node
  // and state machine it uses.
  struct ServiceHolder {
    class Forwarder final : public v1::RaftService::Service {
     public:
      explicit Forwarder(ServiceHolder* h) : h_(h) {}
      grpc::Status Send(grpc::ServerContext* c, const v1::RaftMessageBatch* req,
                        v1::RaftMessageAck* resp) override {
        return h_->Call(c, [&](RaftServiceImpl* t) { return t->Send(c, req, resp); });
      }
      grpc::Status SendLarge(grpc::ServerContext* c,
                             grpc::ServerReader<v1::RaftMessagePiece>* reader,
                             v1::RaftMessageAck* resp) override {
        return h_->Call(c, [&](RaftServiceImpl* t) { return t->SendLarge(c, reader, resp); });
      }
      grpc::Status InstallSnapshot(grpc::ServerContext* c,
                                   grpc::ServerReader<v1::RaftSnapshotPiece>* reader,
                                   v1::RaftMessageAck* resp) override {
        return h_->Call(c, [&](RaftServiceImpl* t) { return t->InstallSnapshot(c, reader, resp); });
      }

     private:
      ServiceHolder* h_;
    };
    ServiceHolder() : service(this) {}
    // Runs `call` on the current target, counted as running; UNAVAILABLE when there is none or
    // the replica is isolated.
    grpc::Status Call(grpc::ServerContext* c,
                      const std::function<grpc::Status(RaftServiceImpl*)>& call);
    // Sets the target (null: none). Detaching cancels the calls running on the old one and
    // returns once they all have.
    void Attach(RaftServiceImpl* next);
    void Detach();

    Forwarder service;
    std::unique_ptr<RaftServiceImpl> service_impl;
    std::atomic<bool> isolated{false};  // drop what arrives and what leaves

   private:
    std::mutex mu;
    std::condition_variable idle;
    RaftServiceImpl* target = nullptr;       // guarded by mu
    std::set<grpc::ServerContext*> running;  // guarded by mu
  };
  // Sends through `inner` unless the replica is isolated.
  class GatedTransport final : public Transport {
   public:
    GatedTransport(Transport* inner, const std::atomic<bool>* isolated)
        : inner_(inner), isolated_(isolated) {}
    void Send(const std::string& address, std::vector<Message> messages) override {
      if (!*isolated_) inner_->Send(address, std::move(messages));
    }

   private:
    Transport* inner_;
    const std::atomic<bool>* isolated_;
  };
  struct Replica {
    std::string dir;
    int port = 0;
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<ServiceHolder> service_holder;
    std::unique_ptr<KvStore> kv;
    std::unique_ptr<RocksLogStorage> storage;
    std::unique_ptr<KvStateMachine> machine;
    std::unique_ptr<GrpcTransport> transport;
    std::unique_ptr<GatedTransport> gate;
    std::unique_ptr<RaftNode> node;
  };
  const LocalGroupOptions options_;
  std::vector<std::unique_ptr<medvault::testing::TempDir>> temp_dirs_;
  Config config_;
  std::map<uint64_t, Replica> replicas_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t events_ = 0;
};

}  // namespace medvault::raft::testing
