// --health_listen, defined once for every service binary (only a main that calls
// HealthListenFromFlags links it).
#include "absl/flags/flag.h"
#include "common/health_port.h"

ABSL_FLAG(std::string, health_listen, "",
          "host:port of a plaintext port answering only grpc.health.v1.Health/Check (the "
          "kubelet's gRPC probes; docs/security.md); empty disables, port 0 picks one");

namespace medvault {

std::string HealthListenFromFlags() { return absl::GetFlag(FLAGS_health_listen); }

}  // namespace medvault
