#include "raft/grpc_transport.h"

#include "common/rpc.h"

#include <chrono>

namespace medvault::raft {

GrpcTransport::~GrpcTransport() {
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
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         (has_snapshot ? std::chrono::seconds(60) : std::chrono::seconds(2)));
    v1::RaftMessageAck ack;
    (void)peer->stub->Send(&context, batch, &ack);  // lost messages are Raft's to retransmit
  }
}

grpc::Status RaftServiceImpl::Send(grpc::ServerContext* context, const v1::RaftMessageBatch* request,
                                   v1::RaftMessageAck*) {
  if (authz_ != nullptr) {
    absl::StatusOr<PeerIdentity> who = authz_->Authorize(*context, "Send");
    if (!who.ok()) return ToGrpcStatus(who.status());
  }
  node_->Receive(std::vector<Message>(request->messages().begin(), request->messages().end()));
  return grpc::Status::OK;
}

}  // namespace medvault::raft
