#include "common/rpc.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "common/tls_metrics.h"

namespace medvault {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // gRPC's reconnect backoff grows to 120 s: a metaserver replica restarted after 25 s down stayed
  // unreachable to its group for another 16-20 s. Peers are few and near: retry at least every
  // second (rpc_test.cc).
  // The "minimum" backoff is also each connection attempt's timeout: at 100 ms, TLS handshakes on
  // a loaded machine were cut off ("handshaker shutdown") and calls failed (bench/load_gen under
  // load). Attempts get 1 s; retries after a refused connection still start at 100 ms.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           absl::string_view peer) {
  return MakeChannel(address, security, peer, DefaultChannelArguments());
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           absl::string_view peer, grpc::ChannelArguments args) {
  security.RequirePeerName(peer, &args);
  return grpc::CreateCustomChannel(address, security.channel_credentials(), args);
}

bool AwaitChannelReady(grpc::ChannelInterface& channel, absl::Duration limit) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(limit);
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (!channel.WaitForStateChange(state, deadline)) return false;  // the limit passed
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return true;
}

namespace {

// Idle threads the synchronous gRPC server keeps polling (see ServiceRunner::Start).
constexpr int kSyncMaxPollers = 16;
// Self-pipe: the signal handler writes a byte; Wait() reads it. Async-signal-safe.
int g_signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int) {
  char b = 1;
  ssize_t ignored = ::write(g_signal_pipe[1], &b, 1);
  (void)ignored;
}
}  // namespace

void InstallTerminationHandlers() {
  if (g_signal_pipe[0] >= 0) return;
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return;
  struct sigaction sa = {};
  sa.sa_handler = OnTerminationSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

ServiceRunner::ServiceRunner(ServerOptions options) : options_(std::move(options)) {
  InstallTerminationHandlers();
  TuneProcessForServing();
  metrics_ = std::make_unique<MetricsEndpoint>();
  ExportCertificateExpiry(options_.name, options_.security, metrics_->registry());
}

ServiceRunner::~ServiceRunner() {
  if (health_) health_->Shutdown();  // first: its checks forward to server_
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

absl::Status ServiceRunner::Start() {
  if (!options_.metrics_address.empty()) {
    absl::Status s = metrics_->Serve(options_.metrics_address);
    if (!s.ok()) return s;
  }
  const std::string& metrics_bound = metrics_->bound_address();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // The synchronous server's threads: gRPC's default keeps at most 2 idle pollers, so under more
  // concurrent calls than that each call past them starts a thread and each finished call ends
  // one (gRPC's thread_manager.cc warns of this thrashing). A chunk server serving a study's
  // read-ahead paid a clone and an exit per chunk. Finished threads now go back to polling, up to
  // kSyncMaxPollers of them. MEDVAULT_GRPC_MAX_POLLERS overrides it (2: gRPC's default; the A/B
  // of docs/benchmarks.md).
  int max_pollers = kSyncMaxPollers;
  if (const char* env = std::getenv("MEDVAULT_GRPC_MAX_POLLERS"); env != nullptr) {
    max_pollers = std::max(1, std::atoi(env));
  }
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, max_pollers);
  int port = 0;
  builder.AddListeningPort(options_.listen_address, options_.security.server_credentials(), &port);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address));
  }
  std::string host = options_.listen_address.substr(0, options_.listen_address.rfind(':'));
  bound_address_ = absl::StrCat(host, ":", port);
  if (!options_.health_address.empty()) {
    absl::StatusOr<std::unique_ptr<HealthPort>> health =
        HealthPort::Start(options_.health_address, server_.get());
    if (!health.ok()) return health.status();
    health_ = *std::move(health);
    AddEndpoint("health", health_->bound_address());
  }
  std::printf("%s listening grpc=%s metrics=%s%s\n", options_.name.c_str(), bound_address_.c_str(),
              metrics_bound.empty() ? "off" : metrics_bound.c_str(), endpoints_.c_str());
  std::fflush(stdout);
  MV_LOG(INFO) << "serving on " << bound_address_ << " with " << options_.security.Describe()
               << ", metrics on " << (metrics_bound.empty() ? "off" : metrics_bound);
  return absl::OkStatus();
}

void ServiceRunner::Wait() {
  char b;
  while (::read(g_signal_pipe[0], &b, 1) < 0 && errno == EINTR) {
  }
  // Wake any other waiter too.
  OnTerminationSignal(0);
  MV_LOG(INFO) << "shutting down";
  // Load balancers and probes stop sending new calls; in-flight ones carry on. The health port
  // closes too (the kubelet's probes fail from now on: the pod leaves its Services while in-flight
  // calls finish); its checks forward to server_, so it must close before server_ does.
  if (server_ && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  if (health_) health_->Shutdown();
  if (on_terminate_) on_terminate_();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    server_->Wait();
  }
  // The process is exiting: do not spend a second stopping the metrics endpoint politely.
  metrics_->AbandonAtExit();
}

void ServiceRunner::Shutdown() { OnTerminationSignal(0); }

}  // namespace medvault
