// A unary call of any method by its full name ("/pkg.Service/Method") with an empty request,
// whatever the method's types: for tests that only look at whether a port serves it. Test-only.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace medvault::testing {

// The call's status (10 s deadline). UNIMPLEMENTED: the server has no such method.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method);

}  // namespace medvault::testing
