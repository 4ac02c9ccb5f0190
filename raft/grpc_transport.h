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
#include "raft/snapshot_staging.h"

namespace medvault::raft {

using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;
// Streams the state machine's state in pieces of about `piece_bytes` to `emit`
// (StateMachine::StreamSnapshot).
using SnapshotStreamer = std::function<absl::Status(
    size_t piece_bytes, const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit)>;

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

  // Pieces of a streamed snapshot, and how long one transfer may take in all.
  static constexpr size_t kSnapshotPieceBytes = 1 << 20;
  static constexpr absl::Duration kDefaultSnapshotTimeout = absl::Minutes(30);
  // Sends SNAPSHOT messages marked `staged` (NodeOptions::stream_snapshots) through
  // RaftService.InstallSnapshot: the message, then the state `streamer` reads, piece by piece, each
  // Write waiting for gRPC's flow control, so the leader holds one piece whatever the state's size.
  // One transfer per follower at a time (Raft asks again if it is still needed); one that fails or
  // exceeds `timeout` is logged with its cause and starts over from the beginning when Raft asks
  // again. Set before the node starts.
  void set_snapshot_streamer(SnapshotStreamer streamer,
                             absl::Duration timeout = kDefaultSnapshotTimeout) {
    streamer_ = std::move(streamer);
    snapshot_timeout_ = timeout;
  }
  // Transfers that completed (the follower took the snapshot), for tests.
  uint64_t snapshots_sent() const { return snapshots_sent_.load(); }

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
  // Streamed snapshots (snapshot_transfer.cc).
  struct Transfer {
    std::thread thread;
    std::atomic<bool> done{false};
    grpc::ClientContext* context = nullptr;  // under transfers_mu_, while the call runs
  };
  void StartSnapshot(const std::string& address, Message message);
  void RunSnapshot(Transfer* transfer, const std::string& address, const Message& message);
  void StopSnapshots();

  const ChannelFactory channels_;
  const size_t stream_above_bytes_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
  SnapshotStreamer streamer_;
  absl::Duration snapshot_timeout_ = kDefaultSnapshotTimeout;
  std::atomic<uint64_t> snapshots_sent_{0};
  std::mutex transfers_mu_;
  bool transfers_stopped_ = false;  // under transfers_mu_
  std::map<std::string, std::unique_ptr<Transfer>> transfers_;
};

// Who may call a group's RaftService: fellow replicas (certificate role `service`) send messages;
// only the frontend, forwarding the Admin calls of clients holding the admin scope, may read the
// status or change membership and leadership.
AccessPolicy RaftServicePolicy(const std::string& service);

class RaftServiceImpl final : public v1::RaftService::Service {
 public:
  // How long a membership change or hand-off may take before the caller is told to retry.
  static constexpr absl::Duration kAdminTimeout = absl::Seconds(10);
  // How long a received snapshot may take to be switched in once staged.
  static constexpr absl::Duration kInstallTimeout = absl::Minutes(10);

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
  // snapshot_transfer.cc: stages the pieces, then hands the message to the node, which switches
  // the staged state in.
  grpc::Status InstallSnapshot(grpc::ServerContext* context,
                               grpc::ServerReader<v1::RaftSnapshotPiece>* reader,
                               v1::RaftMessageAck* response) override;
  // Where InstallSnapshot stages (null: it is refused). Set before serving.
  void set_snapshot_staging(SnapshotStaging* staging) { staging_ = staging; }

  // Batches received through SendLarge (for tests).
  uint64_t large_batches_received() const { return large_batches_.load(); }

 private:
  absl::Status Admit(grpc::ServerContext* context, const char* method);

  RaftNode* const node_;
  const std::unique_ptr<Authorizer> authz_;
  std::atomic<uint64_t> large_batches_{0};
  SnapshotStaging* staging_ = nullptr;
  std::mutex receive_mu_;  // one snapshot received at a time
};

}  // namespace medvault::raft
