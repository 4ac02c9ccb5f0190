// `medvault health`: grpc.health.v1 Check against medvault servers (scripts use it to wait for a
// cluster to come up).
#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace medvault::cli {
namespace {

namespace health = ::grpc::health::v1;

// A channel that notices a server coming up quickly (default reconnect backoff starts at 1 s and
// grows to 2 minutes).
std::shared_ptr<grpc::Channel> HealthChannel(const std::string& address,
                                             const TransportSecurity& security,
                                             absl::string_view server_name) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return MakeChannel(address, security, server_name, std::move(args));
}

}  // namespace

absl::StatusOr<std::string> CheckHealth(const std::string& address,
                                        const TransportSecurity& security,
                                        absl::string_view server_name, absl::Duration wait,
                                        absl::Duration timeout) {
  std::unique_ptr<health::Health::Stub> stub =
      health::Health::NewStub(HealthChannel(address, security, server_name));
  const absl::Time give_up = absl::Now() + wait;
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    grpc::ClientContext context;
    if (wait > absl::ZeroDuration()) {
      // Wait for the connection instead of failing fast, until the overall deadline.
      context.set_wait_for_ready(true);
      absl::Time deadline = std::min(give_up, absl::Now() + timeout);
      context.set_deadline(absl::ToChronoTime(deadline));
    } else {
      SetDeadline(&context, timeout);
    }
    health::HealthCheckRequest request;  // empty service: the server as a whole
    health::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    absl::StatusOr<std::string> result =
        status.ok() ? absl::StatusOr<std::string>(
                          health::HealthCheckResponse::ServingStatus_Name(response.status()))
                    : absl::StatusOr<std::string>(FromGrpcStatus(status));
    if (result.ok() && response.status() == health::HealthCheckResponse::SERVING) return result;
    absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) return result;
    // The server answered but is not serving yet (or refused the call): ask again shortly.
    absl::SleepFor(std::min(backoff, left));
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

int RunHealth(const CommandContext& ctx, const HealthArgs& args) {
  bool all_serving = true;
  const absl::Time give_up = absl::Now() + args.wait;
  for (const std::string& address : args.addresses) {
    // One budget for all addresses: waiting on the first leaves the rest of it for the others.
    absl::Duration wait = std::max(give_up - absl::Now(), absl::ZeroDuration());
    absl::StatusOr<std::string> state =
        CheckHealth(address, *ctx.security, ctx.server_name, wait, ctx.timeout);
    if (state.ok()) {
      *ctx.out << address << " " << *state << "\n";
      all_serving = all_serving && *state == "SERVING";
    } else {
      *ctx.out << address << " " << FormatStatus(state.status()) << "\n";
      all_serving = false;
    }
    ctx.out->flush();
  }
  return all_serving ? kExitOk : kExitFailure;
}

}  // namespace medvault::cli
