#include "common/health_port.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/impl/server_builder_option.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace medvault {
namespace {

namespace health = ::grpc::health::v1;

// Health/Check answered by the serving server's own health service, through its in-process
// channel (no network, no TLS). Watch stays UNIMPLEMENTED: the kubelet only calls Check. A call
// on the in-process channel of a server that has shut down crashes gRPC 1.51, so Stop() (before
// that shutdown) waits for the checks in flight and turns every later one into NOT_SERVING.
class ForwardingHealth final : public health::Health::Service {
 public:
  explicit ForwardingHealth(std::shared_ptr<grpc::Channel> serving)
      : stub_(health::Health::NewStub(std::move(serving))) {}

  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }

  grpc::Status Check(grpc::ServerContext* context, const health::HealthCheckRequest* request,
                     health::HealthCheckResponse* response) override {
    absl::ReaderMutexLock lock(&mu_);
    if (stopped_) {
      response->set_status(health::HealthCheckResponse::NOT_SERVING);
      return grpc::Status::OK;
    }
    grpc::ClientContext inner;
    inner.set_deadline(
        std::min(context->deadline(), std::chrono::system_clock::now() + std::chrono::seconds(2)));
    grpc::Status status = stub_->Check(&inner, *request, response);
    if (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) return status;
    // The serving server does not answer in time: it is not serving.
    response->set_status(health::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<health::Health::Stub> stub_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Drops the process-wide server plugins (reflection) from one builder: the health port lists no
// services.
class NoPlugins final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<HealthPort>> HealthPort::Start(const std::string& address,
                                                              grpc::Server* serving) {
  std::unique_ptr<HealthPort> port(new HealthPort());
  port->service_ = std::make_unique<ForwardingHealth>(serving->InProcessChannel({}));
  grpc::ServerBuilder builder;
  // No default health service of its own (ours answers for the serving port), no reflection.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.SetOption(std::make_unique<NoPlugins>());
  // A health check is a few bytes; the port is reachable without a certificate.
  builder.SetMaxReceiveMessageSize(4 << 10);
  grpc::ResourceQuota quota("health_port");
  quota.SetMaxThreads(4);
  builder.SetResourceQuota(quota);
  int bound = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(port->service_.get());
  port->server_ = builder.BuildAndStart();
  if (!port->server_ || bound == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (health port)"));
  }
  port->bound_address_ = absl::StrCat(address.substr(0, address.rfind(':')), ":", bound);
  return port;
}

HealthPort::~HealthPort() { Shutdown(); }

void HealthPort::Shutdown() {
  if (server_ == nullptr) return;
  static_cast<ForwardingHealth*>(service_.get())->Stop();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
}

}  // namespace medvault
