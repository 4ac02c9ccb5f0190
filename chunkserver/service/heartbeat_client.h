// Sends the chunk server's heartbeats to the metaserver (medvault.v1.MetaService/Heartbeat) and
// mirrors the reported disk space and chunk count into the chunk server's gauges.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chunkserver/service/chunk_server_metrics.h"
#include "common/tls.h"
#include "medvault/v1/metaserver.grpc.pb.h"

namespace medvault::chunkserver {

// A channel to the metaserver like MakeChannel()'s (secured by `security`, the server must prove
// it is the metaserver), but reconnecting quickly (backoff capped at `max_reconnect_backoff`) so
// heartbeats resume within about an interval of a metaserver restart instead of after gRPC's
// default backoff of up to two minutes.
std::shared_ptr<grpc::Channel> MakeHeartbeatChannel(const std::string& address,
                                                    const TransportSecurity& security,
                                                    absl::Duration max_reconnect_backoff);

class HeartbeatClient {
 public:
  // `metrics` must outlive the client. Each call gives up after `timeout`.
  HeartbeatClient(std::shared_ptr<grpc::Channel> channel, ChunkServerMetrics* metrics,
                  absl::Duration timeout);

  // Records the gauges, then sends one heartbeat. The metaserver's error (UNAVAILABLE when it
  // cannot be reached, DEADLINE_EXCEEDED on timeout). Thread-safe.
  absl::Status Send(const v1::ChunkServerInfo& info);

 private:
  std::unique_ptr<v1::MetaService::Stub> stub_;
  ChunkServerMetrics* const metrics_;
  const absl::Duration timeout_;
};

}  // namespace medvault::chunkserver
