// The plaintext health port (--health_listen): grpc.health.v1.Health/Check and nothing else, for
// the kubelet's native gRPC probes, which speak plaintext while every service port is mutual TLS
// only. Its answer is the serving port's own health service's, asked in-process, so it says SERVING
// exactly when the service port would; it closes before the service port shuts down.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace medvault {

class HealthPort {
 public:
  // Listens on `address` (host:port, port 0 picks one) without TLS and answers Health/Check with
  // what `serving`'s default health service answers. Every other method, reflection included, is
  // UNIMPLEMENTED there. REQUIRES: `serving` was built with the default health check service and
  // outlives the HealthPort.
  static absl::StatusOr<std::unique_ptr<HealthPort>> Start(const std::string& address,
                                                           grpc::Server* serving);
  ~HealthPort();

  const std::string& bound_address() const { return bound_address_; }
  // Stops answering. REQUIRES: before `serving` shuts down (checks forward to it). Idempotent.
  void Shutdown();

 private:
  HealthPort() = default;

  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string bound_address_;
};

// The --health_listen flag every service binary takes (empty: no health port).
std::string HealthListenFromFlags();

}  // namespace medvault
