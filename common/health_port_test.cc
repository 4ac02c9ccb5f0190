// The plaintext health port answers grpc.health.v1.Health/Check with the serving port's own state
// and refuses everything else (the services' rpcs, reflection) without reaching them.
#include "common/health_port.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include <atomic>
#include <chrono>

#include <gtest/gtest.h>

#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/raw_call.h"
#include "common/testing/temp_dir.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"

namespace medvault {
namespace {

namespace health = ::grpc::health::v1;
using health::HealthCheckResponse;

constexpr char kGetKekStatus[] = "/medvault.v1.KeyService/GetKekStatus";
constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// A KeyService whose GetKekStatus answers (and counts); every other method is UNIMPLEMENTED.
class CountingKeyService final : public v1::KeyService::Service {
 public:
  grpc::Status GetKekStatus(grpc::ServerContext*, const v1::GetKekStatusRequest*,
                            v1::GetKekStatusResponse*) override {
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

class HealthPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::MakeDevCerts(dir_.path(), {"keyservice", "client"}).ok());
    auto server_tls = TransportSecurity::MutualTls(DefaultFilesystem(),
                                                   testing::DevTlsFiles(dir_.path(), "keyservice"));
    ASSERT_TRUE(server_tls.ok()) << server_tls.status();
    // As ServiceRunner builds a service's server: default health service and reflection.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", server_tls->server_credentials(), &port);
    builder.RegisterService(&keys_);
    serving_ = builder.BuildAndStart();
    ASSERT_NE(serving_, nullptr);
    serving_address_ = "127.0.0.1:" + std::to_string(port);
    auto health = HealthPort::Start("127.0.0.1:0", serving_.get());
    ASSERT_TRUE(health.ok()) << health.status();
    health_ = *std::move(health);
    plain_ = grpc::CreateChannel(health_->bound_address(), grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    health_.reset();
    if (serving_) serving_->Shutdown(std::chrono::system_clock::now());
  }

  // The mutual TLS channel a real peer (the frontend's certificate would do; "client" is signed
  // by the same CA) uses on the serving port.
  std::shared_ptr<grpc::Channel> Tls() {
    auto tls = TransportSecurity::MutualTls(DefaultFilesystem(),
                                            testing::DevTlsFiles(dir_.path(), "client"));
    return MakeChannel(serving_address_, *tls, kKeyServicePeer);
  }

  static grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel, HealthCheckResponse* out,
                            const std::string& service = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    health::HealthCheckRequest request;
    request.set_service(service);
    return health::Health::NewStub(channel)->Check(&ctx, request, out);
  }

  testing::TempDir dir_;
  CountingKeyService keys_;
  std::unique_ptr<grpc::Server> serving_;
  std::string serving_address_;
  std::unique_ptr<HealthPort> health_;
  std::shared_ptr<grpc::Channel> plain_;
};

TEST_F(HealthPortTest, AnswersWhatTheServingPortsHealthServiceSays) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check(plain_, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  serving_->GetHealthCheckService()->SetServingStatus(false);
  ASSERT_TRUE(Check(plain_, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(Check(Tls(), &response).ok());  // the serving port says the same
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  serving_->GetHealthCheckService()->SetServingStatus(true);
  ASSERT_TRUE(Check(plain_, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  // Per-service states are forwarded too; an unknown service is NOT_FOUND, as on the serving port.
  serving_->GetHealthCheckService()->SetServingStatus("medvault.v1.KeyService", false);
  ASSERT_TRUE(Check(plain_, &response, "medvault.v1.KeyService").ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(plain_, &response, "no.such.Service").error_code(), grpc::StatusCode::NOT_FOUND);
}

// ServiceRunner shuts the health port down before the serving server: from then on a check never
// reaches the serving server (gRPC crashes on an in-process call to a shut-down server).
TEST_F(HealthPortTest, ClosesBeforeTheServingPortShutsDown) {
  health_->Shutdown();
  health_->Shutdown();  // idempotent
  HealthCheckResponse response;
  EXPECT_EQ(Check(plain_, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  serving_->Shutdown(std::chrono::system_clock::now());
  serving_->Wait();
  EXPECT_EQ(Check(plain_, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(HealthPortTest, RefusesEveryOtherMethodWithoutReachingTheService) {
  // The rpc and reflection exist on the serving port (with a certificate)...
  EXPECT_TRUE(testing::RawUnaryCall(Tls(), kGetKekStatus).ok());
  EXPECT_EQ(keys_.calls, 1);
  EXPECT_NE(testing::RawUnaryCall(Tls(), kReflection).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // ...but not on the health port, which takes no certificate.
  EXPECT_EQ(testing::RawUnaryCall(plain_, kGetKekStatus).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(testing::RawUnaryCall(plain_, kReflection).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(keys_.calls, 1);
  // Watch is not served either (the kubelet only calls Check).
  EXPECT_EQ(testing::RawUnaryCall(plain_, "/grpc.health.v1.Health/Watch").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(HealthPortTest, ServingPortStillRefusesPlaintext) {
  auto plain_to_serving = grpc::CreateChannel(serving_address_, grpc::InsecureChannelCredentials());
  HealthCheckResponse response;
  EXPECT_EQ(Check(plain_to_serving, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace medvault
