// Sends the chunk server's heartbeats to the metaserver (medvault.v1.MetaService/Heartbeat) and
// mirrors the reported disk space and chunk count into the chunk server's gauges.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chunkserver/service/chunk_server_metrics.h"
#include "common/group_channels.h"
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
  // `metaservers`: the metaserver group's members; heartbeats go to its leader. `metrics` must
  // outlive the client. Each call gives up after `timeout`.
  // Channels are made (once, here) with `security`.
  HeartbeatClient(const std::vector<std::string>& metaservers, const TransportSecurity& security,
                  absl::Duration max_reconnect_backoff, ChunkServerMetrics* metrics,
                  absl::Duration timeout);

  // Records the gauges, then sends one heartbeat. The metaserver's error (UNAVAILABLE when it
  // cannot be reached, DEADLINE_EXCEEDED on timeout). Thread-safe.
  absl::Status Send(const v1::ChunkServerInfo& info);

 private:
  GroupChannels group_;
  ChunkServerMetrics* const metrics_;
  const absl::Duration timeout_;
};

}  // namespace medvault::chunkserver
