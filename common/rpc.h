// gRPC plumbing shared by every service: Status <-> grpc::Status mapping, channels to peers, and a
// server runner with health checking, reflection, /metrics and graceful shutdown on SIGTERM.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/health_port.h"
#include "common/metrics.h"
#include "common/tls.h"

namespace medvault {

// Largest gRPC message a medvault peer accepts (a chunk plus envelope, with room to spare).
constexpr int kMaxGrpcMessageBytes = 64 << 20;

// The one table between absl::Status and grpc::Status (the code spaces coincide; the message is
// carried as is). UNAVAILABLE means "retry elsewhere"; INVALID_ARGUMENT "do not retry"; DATA_LOSS
// "integrity failed".
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Channel arguments every medvault channel starts from: message size limits, and reconnect
// attempts at least every second (a restarted peer is reachable again at once).
grpc::ChannelArguments DefaultChannelArguments();

// Channel to the medvault service `peer` (kKeyServicePeer, ...) at `address`, secured by
// `security`. With mutual TLS the channel presents this process's certificate and accepts the
// server only if its certificate is signed by the CA and names `peer` (see
// TransportSecurity::RequirePeerName); an empty `peer` checks the dialled host instead. `args`
// defaults to DefaultChannelArguments().
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           absl::string_view peer);
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           absl::string_view peer, grpc::ChannelArguments args);

// Waits until `channel` is READY (true) or `limit` has passed (false), asking it to connect. A
// synchronous client must wait between retries this way, not by sleeping: gRPC (1.51) advances a
// connection attempt (its TCP connect, its TLS handshake) only while a thread of the process polls
// the channel, in a call or in a wait like this one, and a fail-fast call on a channel in
// TRANSIENT_FAILURE returns at once. A process that slept between such calls let every reconnect
// attempt time out unpolled ("tcp handshaker shutdown") and never reconnected, while a new process
// connected at once (cluster_test, CliThatRetriedWhileNoFrontendAnsweredConnectsOnceOneDoes).
bool AwaitChannelReady(grpc::ChannelInterface& channel, absl::Duration limit);

// Options of one service process.
struct ServerOptions {
  std::string name;             // "keyservice", "chunkserver", ...
  std::string listen_address;   // host:port; port 0 picks a free one
  std::string metrics_address;  // host:port for /metrics; empty disables; port 0 picks
  // What the gRPC port accepts: with mutual TLS only TLS connections presenting a client
  // certificate signed by the CA (plaintext is refused). /metrics stays plain HTTP.
  TransportSecurity security;
  // host:port of the plaintext health port (HealthPort: grpc.health.v1.Health/Check only, for the
  // kubelet's gRPC probes); empty disables it; port 0 picks.
  std::string health_address;
};

// A running server. Start() binds and prints one line to stdout that tests and scripts read:
//   "<name> listening grpc=<host:port> metrics=<host:port>[ <endpoint>=<host:port>...]"
// (with a health port, one endpoint is "health=<host:port>").
// Wait() blocks until SIGTERM/SIGINT (or Shutdown()), then reports NOT_SERVING to health checks
// and closes the health port, runs the on-terminate hook (a Raft leader hands off its leadership
// there, while its server still carries the group's messages), stops accepting calls, lets
// in-flight calls finish for up to 10 s, abandons the metrics endpoint (the process is exiting)
// and returns.
class ServiceRunner {
 public:
  explicit ServiceRunner(ServerOptions options);
  ~ServiceRunner();

  // The registry services record their metrics in. Valid for the runner's lifetime.
  prometheus::Registry& registry() { return metrics_->registry(); }

  // REQUIRES: before Start(). The services must outlive the runner.
  void AddService(grpc::Service* service) { services_.push_back(service); }
  // REQUIRES: before Start(). Another door of the process (e.g. "dicom"), named in the line.
  void AddEndpoint(const std::string& name, const std::string& address) {
    endpoints_ += " " + name + "=" + address;
  }

  absl::Status Start();
  // Address actually bound (after Start()).
  const std::string& bound_address() const { return bound_address_; }

  // Blocks until a termination signal or Shutdown(); then shuts the server down gracefully.
  void Wait();
  void Shutdown();
  // REQUIRES: before Wait(). Runs on termination before the server stops accepting calls.
  void set_on_terminate(std::function<void()> hook) { on_terminate_ = std::move(hook); }

 private:
  ServerOptions options_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::vector<grpc::Service*> services_;
  std::string endpoints_;  // " name=address" per AddEndpoint
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HealthPort> health_;  // declared after server_: stops before it is destroyed
  std::string bound_address_;
  std::function<void()> on_terminate_;
};

// Installs SIGTERM/SIGINT handlers that wake every ServiceRunner::Wait(). Call first in main().
void InstallTerminationHandlers();

}  // namespace medvault
