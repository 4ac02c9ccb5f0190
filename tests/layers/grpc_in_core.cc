// A core source that breaks the layer rule on purpose: it includes a gRPC header. The library made
// of it (medvault_layer_probe, tests/CMakeLists.txt) is outside the default build; the test
// layer_check_fails_the_build builds it and expects the build itself to refuse it.
#include <grpcpp/support/status.h>

namespace medvault::testing {

int LayerProbe() { return grpc::Status::OK.ok() ? 1 : 0; }

}  // namespace medvault::testing
