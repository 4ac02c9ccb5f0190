#include "raft/grpc_transport.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/tls.h"

namespace medvault::raft {

GrpcTransport::~GrpcTransport() {
  StopSnapshots();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [address, peer] : peers_) {
    {
      std::lock_guard<std::mutex> peer_lock(peer->mu);
      peer->stop = true;
    }
    peer->cv.notify_all();
  }
  for (auto& [address, peer] : peers_) peer->thread.join();
}

void GrpcTransport::Send(const std::string& address, std::vector<Message> messages) {
  if (streamer_) {
    for (auto it = messages.begin(); it != messages.end();) {
      if (!it->snapshot().staged()) {
        ++it;
        continue;
      }
      StartSnapshot(address, std::move(*it));
      it = messages.erase(it);
    }
    if (messages.empty()) return;
  }
  Peer* peer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<Peer>& slot = peers_[address];
    if (!slot) {
      slot = std::make_unique<Peer>();
      slot->stub = v1::RaftService::NewStub(channels_(address));
      Peer* p = slot.get();
      slot->thread = std::thread([this, p] { Run(p); });
    }
    peer = slot.get();
  }
  {
    std::lock_guard<std::mutex> lock(peer->mu);
    for (Message& m : messages) peer->queue.push_back(std::move(m));
    while (peer->queue.size() > kMaxQueuedMessages) peer->queue.pop_front();
  }
  peer->cv.notify_one();
}

void GrpcTransport::Run(Peer* peer) {
  constexpr size_t kMaxBatchBytes = 16 << 20;
  while (true) {
    v1::RaftMessageBatch batch;
    bool has_snapshot = false;
    {
      std::unique_lock<std::mutex> lock(peer->mu);
      peer->cv.wait(lock, [&] { return peer->stop || !peer->queue.empty(); });
      if (peer->stop) return;
      size_t bytes = 0;
      while (!peer->queue.empty() && (batch.messages_size() == 0 || bytes < kMaxBatchBytes)) {
        bytes += peer->queue.front().ByteSizeLong();
        has_snapshot = has_snapshot || peer->queue.front().has_snapshot();
        *batch.add_messages() = std::move(peer->queue.front());
        peer->queue.pop_front();
      }
    }
    Deliver(peer, batch, has_snapshot);
  }
}

void GrpcTransport::Deliver(Peer* peer, const v1::RaftMessageBatch& batch, bool has_snapshot) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       (has_snapshot ? std::chrono::seconds(300) : std::chrono::seconds(2)));
  v1::RaftMessageAck ack;
  if (batch.ByteSizeLong() <= stream_above_bytes_) {
    (void)peer->stub->Send(&context, batch, &ack);  // lost messages are Raft's to retransmit
    return;
  }
  std::string bytes;
  if (!batch.SerializeToString(&bytes)) return;
  std::unique_ptr<grpc::ClientWriter<v1::RaftMessagePiece>> writer =
      peer->stub->SendLarge(&context, &ack);
  v1::RaftMessagePiece piece;
  for (size_t at = 0; at < bytes.size(); at += stream_above_bytes_) {
    piece.set_data(bytes.data() + at, std::min(stream_above_bytes_, bytes.size() - at));
    if (!writer->Write(piece)) break;
  }
  writer->WritesDone();
  (void)writer->Finish();
}

grpc::Status RaftServiceImpl::SendLarge(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::RaftMessagePiece>* reader,
                                        v1::RaftMessageAck*) {
  absl::Status admitted = Admit(context, "SendLarge");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  constexpr size_t kMaxLargeBatchBytes = size_t{2} << 30;  // what one protobuf parse accepts
  std::string bytes;
  v1::RaftMessagePiece piece;
  while (reader->Read(&piece)) {
    if (bytes.size() + piece.data().size() > kMaxLargeBatchBytes) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Raft batch exceeds 2 GiB");
    }
    bytes.append(piece.data());
  }
  v1::RaftMessageBatch batch;
  if (!batch.ParseFromString(bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Raft batch pieces do not parse");
  }
  large_batches_.fetch_add(1);
  node_->Receive(std::vector<Message>(batch.messages().begin(), batch.messages().end()));
  return grpc::Status::OK;
}

grpc::Status RaftServiceImpl::Send(grpc::ServerContext* context,
                                   const v1::RaftMessageBatch* request, v1::RaftMessageAck*) {
  absl::Status admitted = Admit(context, "Send");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  node_->Receive(std::vector<Message>(request->messages().begin(), request->messages().end()));
  return grpc::Status::OK;
}

AccessPolicy RaftServicePolicy(const std::string& service) {
  AccessPolicy policy;
  policy.AllowRoles("Send", {service})
      .AllowRoles("SendLarge", {service})
      .AllowRoles("InstallSnapshot", {service});
  for (const char* method : {"GetStatus", "AddMember", "RemoveMember", "TransferLeader",
                             "TakeSnapshot", "StreamBackup"}) {
    policy.AllowRoles(method, {kFrontendPeer});
  }
  return policy;
}

absl::Status RaftServiceImpl::Admit(grpc::ServerContext* context, const char* method) {
  if (authz_ == nullptr) return absl::OkStatus();
  return authz_->Authorize(*context, method).status();
}

grpc::Status RaftServiceImpl::GetStatus(grpc::ServerContext* context,
                                        const v1::GetRaftStatusRequest*,
                                        v1::GetRaftStatusResponse* response) {
  absl::Status admitted = Admit(context, "GetStatus");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  absl::StatusOr<v1::GetRaftStatusResponse> status = node_->GroupStatus();
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status RaftServiceImpl::AddMember(grpc::ServerContext* context,
                                        const v1::AddRaftMemberRequest* request,
                                        v1::AddRaftMemberResponse*) {
  absl::Status admitted = Admit(context, "AddMember");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  if (request->id() == 0) return ToGrpcStatus(absl::InvalidArgumentError("id must be non-zero"));
  if (request->address().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("address is required"));
  }
  absl::Status added = node_->AddMember(request->id(), request->address(), kAdminTimeout);
  if (added.ok()) {
    MV_LOG(INFO) << "raft member " << request->id() << " at " << request->address()
                 << " added as a learner";
  }
  return ToGrpcStatus(added);
}

grpc::Status RaftServiceImpl::RemoveMember(grpc::ServerContext* context,
                                           const v1::RemoveRaftMemberRequest* request,
                                           v1::RemoveRaftMemberResponse*) {
  absl::Status admitted = Admit(context, "RemoveMember");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  if (request->id() == 0) return ToGrpcStatus(absl::InvalidArgumentError("id must be non-zero"));
  absl::Status removed = node_->RemoveMember(request->id(), kAdminTimeout);
  if (removed.ok()) MV_LOG(INFO) << "raft member " << request->id() << " removed";
  return ToGrpcStatus(removed);
}

grpc::Status RaftServiceImpl::TransferLeader(grpc::ServerContext* context,
                                             const v1::TransferRaftLeaderRequest* request,
                                             v1::TransferRaftLeaderResponse* response) {
  absl::Status admitted = Admit(context, "TransferLeader");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  absl::StatusOr<uint64_t> leader = node_->TransferLeadership(request->target_id(), kAdminTimeout);
  if (!leader.ok()) return ToGrpcStatus(leader.status());
  response->set_leader_id(*leader);
  response->set_leader_address(node_->Status().leader_address);
  return grpc::Status::OK;
}

grpc::Status RaftServiceImpl::TakeSnapshot(grpc::ServerContext* context,
                                           const v1::TakeRaftSnapshotRequest*,
                                           grpc::ServerWriter<v1::RaftMessagePiece>*) {
  absl::Status admitted = Admit(context, "TakeSnapshot");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  // It held the whole state in memory; StreamBackup replaced it.
  return ToGrpcStatus(absl::FailedPreconditionError(
      "TakeSnapshot is retired: backups stream through StreamBackup (a frontend of this version)"));
}

grpc::Status RaftServiceImpl::StreamBackup(grpc::ServerContext* context,
                                           const v1::TakeRaftSnapshotRequest*,
                                           grpc::ServerWriter<v1::RaftBackupPiece>* writer) {
  absl::Status admitted = Admit(context, "StreamBackup");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  // Each Write waits for gRPC's flow control: a slow reader holds the leader back, never its
  // memory; the RocksDB view stays held meanwhile.
  constexpr size_t kPieceBytes = 256 << 10;
  return ToGrpcStatus(
      node_->StreamBackup(kAdminTimeout, kPieceBytes, [writer](const v1::RaftBackupPiece& piece) {
        if (!writer->Write(piece)) return absl::CancelledError("the backup's caller went away");
        return absl::OkStatus();
      }));
}

}  // namespace medvault::raft
