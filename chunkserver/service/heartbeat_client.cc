#include "chunkserver/service/heartbeat_client.h"

#include <algorithm>

#include "common/rpc.h"

namespace medvault::chunkserver {

std::shared_ptr<grpc::Channel> MakeHeartbeatChannel(const std::string& address,
                                                    const TransportSecurity& security,
                                                    absl::Duration max_reconnect_backoff) {
  grpc::ChannelArguments args = DefaultChannelArguments();
  const int max_ms =
      std::max<int>(100, static_cast<int>(absl::ToInt64Milliseconds(max_reconnect_backoff)));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(max_ms, 100));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(max_ms, 100));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  return MakeChannel(address, security, kMetaServerPeer, std::move(args));
}

HeartbeatClient::HeartbeatClient(const std::vector<std::string>& metaservers,
                                 const TransportSecurity& security,
                                 absl::Duration max_reconnect_backoff, ChunkServerMetrics* metrics,
                                 absl::Duration timeout)
    : group_(metaservers,
             [&security, max_reconnect_backoff](const std::string& a) {
               return MakeHeartbeatChannel(a, security, max_reconnect_backoff);
             }),
      metrics_(metrics),
      timeout_(timeout) {}

absl::Status HeartbeatClient::Send(const v1::ChunkServerInfo& info) {
  metrics_->disk_free_bytes.Set(static_cast<double>(info.free_bytes()));
  metrics_->disk_capacity_bytes.Set(static_cast<double>(info.capacity_bytes()));
  metrics_->chunks_stored.Set(static_cast<double>(info.chunk_count()));
  v1::HeartbeatRequest request;
  *request.mutable_server() = info;
  absl::Status s = group_.Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point deadline) {
        grpc::ClientContext context;
        context.set_deadline(deadline);
        v1::HeartbeatResponse response;
        return FromGrpcStatus(
            v1::MetaService::NewStub(channel)->Heartbeat(&context, request, &response));
      },
      std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_)));
  if (s.ok())
    metrics_->quarantined_reported.Increment(
        static_cast<double>(info.quarantined_chunk_ids_size()));
  return s;
}

}  // namespace medvault::chunkserver
