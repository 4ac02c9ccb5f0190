// Raft messages over gRPC: one sender thread and bounded queue per peer address, so a slow or dead
// peer never delays the others; delivery is best effort (Raft retransmits). The server side,
// RaftServiceImpl, hands received batches to the local RaftNode.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
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

  // Batches whose serialised size exceeds this go through the streaming SendLarge in pieces of
  // this size (a gRPC message is capped at 64 MiB; a snapshot can be far larger).
  static constexpr size_t kDefaultStreamAboveBytes = 8 << 20;

  explicit GrpcTransport(ChannelFactory channels,
                         size_t stream_above_bytes = kDefaultStreamAboveBytes)
      : channels_(std::move(channels)), stream_above_bytes_(stream_above_bytes) {}
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
  // Sends one batch, streamed in pieces when it is large; best effort.
  void Deliver(Peer* peer, const v1::RaftMessageBatch& batch, bool has_snapshot);

  const ChannelFactory channels_;
  const size_t stream_above_bytes_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
};

// Who may call a group's RaftService: fellow replicas (certificate role `service`) send messages;
// only the frontend, forwarding the Admin calls of clients holding the admin scope, may read the
// status or change membership and leadership.
AccessPolicy RaftServicePolicy(const std::string& service);

class RaftServiceImpl final : public v1::RaftService::Service {
 public:
  // How long a membership change or hand-off may take before the caller is told to retry.
  static constexpr absl::Duration kAdminTimeout = absl::Seconds(10);

  // `authz` (may be null: every caller accepted) decides who may send Raft messages: only fellow
  // replicas, or anyone holding a certificate of the CA could vote or append entries.
  explicit RaftServiceImpl(RaftNode* node, std::unique_ptr<Authorizer> authz = nullptr)
      : node_(node), authz_(std::move(authz)) {}
  grpc::Status Send(grpc::ServerContext* context, const v1::RaftMessageBatch* request,
                    v1::RaftMessageAck* response) override;
  grpc::Status SendLarge(grpc::ServerContext* context,
                         grpc::ServerReader<v1::RaftMessagePiece>* reader,
                         v1::RaftMessageAck* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetRaftStatusRequest* request,
                         v1::GetRaftStatusResponse* response) override;
  grpc::Status AddMember(grpc::ServerContext* context, const v1::AddRaftMemberRequest* request,
                         v1::AddRaftMemberResponse* response) override;
  grpc::Status RemoveMember(grpc::ServerContext* context,
                            const v1::RemoveRaftMemberRequest* request,
                            v1::RemoveRaftMemberResponse* response) override;
  grpc::Status TransferLeader(grpc::ServerContext* context,
                              const v1::TransferRaftLeaderRequest* request,
                              v1::TransferRaftLeaderResponse* response) override;
  grpc::Status TakeSnapshot(grpc::ServerContext* context,
                            const v1::TakeRaftSnapshotRequest* request,
                            grpc::ServerWriter<v1::RaftMessagePiece>* writer) override;
  grpc::Status StreamBackup(grpc::ServerContext* context,
                            const v1::TakeRaftSnapshotRequest* request,
                            grpc::ServerWriter<v1::RaftBackupPiece>* writer) override;

  // Batches received through SendLarge (for tests).
  uint64_t large_batches_received() const { return large_batches_.load(); }

 private:
  absl::Status Admit(grpc::ServerContext* context, const char* method);

  RaftNode* const node_;
  const std::unique_ptr<Authorizer> authz_;
  std::atomic<uint64_t> large_batches_{0};
};

}  // namespace medvault::raft
