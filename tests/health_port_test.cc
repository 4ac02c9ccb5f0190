// Every service binary's plaintext health port (--health_listen, the kubelet's gRPC probe target
// in deploy/k8s) answers Health/Check SERVING and refuses the service's own rpcs, which the same
// process serves on its mutual-TLS port.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/rpc.h"
#include "common/testing/raw_call.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/external_cluster.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::RawUnaryCall;

struct Expectation {
  std::string process;
  std::string peer;  // the TLS peer name the process presents
  // One rpc each of the services the process serves, by full method name.
  std::vector<std::string> methods;
};

TEST(HealthPort, AnswersHealthOnlyOnEveryBinary) {
  const std::vector<std::string> health = {"--health_listen=127.0.0.1:0"};
  testing::ClusterOptions options;
  options.chunkservers = 1;
  options.metaserver_flags = options.keyservice_flags = options.frontend_flags =
      options.chunkserver_flags = health;
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  const std::vector<Expectation> expectations = {
      {"frontend",
       kFrontendPeer,
       {"/medvault.v1.ImageStore/FindStudies", "/medvault.v1.Admin/ListChunkServers"}},
      {"metaserver", kMetaServerPeer, {"/medvault.v1.MetaService/ListChunkServers"}},
      {"keyservice", kKeyServicePeer, {"/medvault.v1.KeyService/GetKekStatus"}},
      {"chunkserver-0", kChunkServerPeer, {"/medvault.v1.ChunkService/ListChunks"}},
  };
  for (const Expectation& e : expectations) {
    SCOPED_TRACE(e.process);
    const std::string address = cluster.HealthOf(e.process);
    ASSERT_FALSE(address.empty()) << "no health= endpoint in the listening line";
    auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());

    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = grpc::health::v1::Health::NewStub(plain)->Check(
        &context, grpc::health::v1::HealthCheckRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

    auto tls = cluster.Channel(cluster.AddressOf(e.process), e.peer);
    for (const std::string& method : e.methods) {
      SCOPED_TRACE(method);
      // Served on the TLS port (whatever the empty request earns there)...
      EXPECT_NE(RawUnaryCall(tls, method).error_code(), grpc::StatusCode::UNIMPLEMENTED);
      // ...and not at all on the health port.
      EXPECT_EQ(RawUnaryCall(plain, method).error_code(), grpc::StatusCode::UNIMPLEMENTED);
    }
    EXPECT_EQ(RawUnaryCall(plain, "/medvault.v1.RaftService/Send").error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
