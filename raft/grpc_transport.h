// Raft messages over gRPC: one sender thread and bounded queue per peer address, so a slow or dead
// peer never delays the others; delivery is best effort (Raft retransmits). The server side,
// RaftServiceImpl, hands received batches to the local RaftNode.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/access_policy.h"
#include "medvault/v1/raft.grpc.pb.h"
#include "raft/node.h"

namespace medvault::raft {

using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;

class GrpcTransport : public Transport {
 public:
  // Messages queued per peer beyond this are dropped, oldest first.
  static constexpr size_t kMaxQueuedMessages = 4096;

  explicit GrpcTransport(ChannelFactory channels) : channels_(std::move(channels)) {}
  ~GrpcTransport() override;

  void Send(const std::string& address, std::vector<Message> messages) override;

 private:
  struct Peer {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Message> queue;
    bool stop = false;
    std::unique_ptr<v1::RaftService::Stub> stub;
    std::thread thread;
  };
  void Run(Peer* peer);

  const ChannelFactory channels_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
};

class RaftServiceImpl final : public v1::RaftService::Service {
 public:
  // `authz` (may be null: every caller accepted) decides who may send Raft messages: only fellow
  // replicas, or anyone holding a certificate of the CA could vote or append entries.
  explicit RaftServiceImpl(RaftNode* node, std::unique_ptr<Authorizer> authz = nullptr)
      : node_(node), authz_(std::move(authz)) {}
  grpc::Status Send(grpc::ServerContext* context, const v1::RaftMessageBatch* request,
                    v1::RaftMessageAck* response) override;

 private:
  RaftNode* const node_;
  const std::unique_ptr<Authorizer> authz_;
};

}  // namespace medvault::raft
