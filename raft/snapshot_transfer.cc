// Streamed Raft snapshots (RaftService.InstallSnapshot): the leader's side in GrpcTransport, the
// follower's in RaftServiceImpl. Neither side ever holds more than a piece of the state: the
// leader reads it through one RocksDB snapshot (StateMachine::StreamSnapshot) and each Write waits
// for gRPC's flow control; the follower writes each piece to its staging area
// (raft/snapshot_staging.h) and installs only a complete one.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/rpc.h"
#include "raft/grpc_transport.h"

namespace medvault::raft {

void GrpcTransport::StartSnapshot(const std::string& address, Message message) {
  std::lock_guard<std::mutex> lock(transfers_mu_);
  if (transfers_stopped_) return;
  std::unique_ptr<Transfer>& slot = transfers_[address];
  if (slot && !slot->done.load()) return;  // one at a time; Raft asks again when it needs to
  if (slot) slot->thread.join();
  slot = std::make_unique<Transfer>();
  Transfer* t = slot.get();
  t->thread =
      std::thread([this, t, address, m = std::move(message)] { RunSnapshot(t, address, m); });
}

void GrpcTransport::StopSnapshots() {
  std::map<std::string, std::unique_ptr<Transfer>> transfers;
  {
    std::lock_guard<std::mutex> lock(transfers_mu_);
    transfers_stopped_ = true;
    for (auto& [address, t] : transfers_) {
      if (t->context != nullptr) t->context->TryCancel();
    }
  }
  // The threads take transfers_mu_ only to publish and clear their context: joined unlocked.
  for (auto& [address, t] : transfers_) t->thread.join();
}

void GrpcTransport::RunSnapshot(Transfer* t, const std::string& address, const Message& message) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(absl::ToInt64Microseconds(snapshot_timeout_)));
  {
    std::lock_guard<std::mutex> lock(transfers_mu_);
    if (transfers_stopped_) {
      t->done = true;
      return;
    }
    t->context = &context;
  }
  std::unique_ptr<v1::RaftService::Stub> stub = v1::RaftService::NewStub(channels_(address));
  v1::RaftMessageAck ack;
  std::unique_ptr<grpc::ClientWriter<v1::RaftSnapshotPiece>> writer =
      stub->InstallSnapshot(&context, &ack);
  uint64_t pieces = 0, bytes = 0, index = 0;
  bool refused = false;  // a Write failed: the follower's status says why
  v1::RaftSnapshotPiece first;
  *first.mutable_message() = message;
  absl::Status streamed;
  if (!writer->Write(first)) {
    refused = true;
  } else {
    streamed = streamer_(kSnapshotPieceBytes, [&](const v1::RaftBackupPiece& piece) {
      v1::RaftSnapshotPiece out;
      *out.mutable_piece() = piece;
      if (piece.has_meta()) index = piece.meta().index();
      bytes += out.ByteSizeLong();
      if (!writer->Write(out)) {
        refused = true;
        return absl::UnavailableError("the follower stopped receiving the snapshot");
      }
      ++pieces;
      return absl::OkStatus();
    });
  }
  if (!streamed.ok() && !refused) context.TryCancel();  // reading the state failed here
  if (!refused) writer->WritesDone();
  absl::Status finished = FromGrpcStatus(writer->Finish());
  if (!streamed.ok() && !refused) finished = streamed;
  if (refused && finished.ok())
    finished = absl::UnavailableError("the follower ended the stream before its last piece");
  {
    std::lock_guard<std::mutex> lock(transfers_mu_);
    t->context = nullptr;
  }
  if (finished.ok()) {
    snapshots_sent_.fetch_add(1);
    MV_LOG(INFO) << "raft snapshot at index " << index << " sent to " << address << " in " << pieces
                 << " pieces (" << bytes / (1 << 20) << " MiB)";
  } else {
    MV_LOG(WARNING) << "raft snapshot to " << address << " failed after " << pieces
                    << " pieces: " << finished
                    << "; the follower keeps its old state and the leader starts over";
  }
  t->done = true;
}

grpc::Status RaftServiceImpl::InstallSnapshot(grpc::ServerContext* context,
                                              grpc::ServerReader<v1::RaftSnapshotPiece>* reader,
                                              v1::RaftMessageAck*) {
  absl::Status admitted = Admit(context, "InstallSnapshot");
  if (!admitted.ok()) return ToGrpcStatus(admitted);
  if (staging_ == nullptr) {
    return ToGrpcStatus(absl::FailedPreconditionError("this replica takes no streamed snapshot"));
  }
  std::unique_lock<std::mutex> receiving(receive_mu_, std::try_to_lock);
  if (!receiving.owns_lock())
    return ToGrpcStatus(absl::UnavailableError("another snapshot is being received; retry"));
  v1::RaftSnapshotPiece piece;
  if (!reader->Read(&piece) || !piece.has_message() ||
      piece.message().type() != v1::RAFT_MSG_SNAPSHOT || !piece.message().snapshot().staged()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("a snapshot stream starts with the leader's SNAPSHOT message"));
  }
  Message message = piece.message();
  if (absl::Status begun = staging_->Begin(); !begun.ok()) return ToGrpcStatus(begun);
  bool complete = false;
  while (!complete && reader->Read(&piece)) {
    absl::StatusOr<bool> added = staging_->Add(piece.piece());
    if (!added.ok()) {
      MV_LOG(WARNING) << "raft snapshot refused: " << added.status();
      return ToGrpcStatus(added.status());
    }
    complete = *added;
  }
  if (!complete) {
    return ToGrpcStatus(absl::DataLossError(
        "the snapshot stream ended before its last piece; the old state is kept"));
  }
  // The state was read at its own position, at or after the one the message named.
  *message.mutable_snapshot()->mutable_meta() = staging_->meta();
  absl::Status taken = node_->ReceiveSnapshot(std::move(message), kInstallTimeout);
  // The core took the message: an installed snapshot left nothing staged; a stale one (a leader of
  // an older term, a position this replica already holds) is dropped rather than kept on disk.
  if (taken.ok()) taken = staging_->Begin();
  return ToGrpcStatus(taken);
}

}  // namespace medvault::raft
