// `medvault scrub start|status`: on-demand scrub passes on the chunk servers and their progress,
// over the frontend's Admin service (which forwards to the metaserver, which asks each server).
#include <iomanip>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

std::string Time(int64_t micros) {
  if (micros == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

std::string State(const v1::ServerScrubStatus& s) {
  if (!s.error().empty()) return "unknown";
  if (s.status().running()) return "running";
  return s.status().finished_micros() > 0 ? "finished" : "idle";
}

void PrintStatus(const v1::ServerScrubStatus& s, bool json, std::ostream& out) {
  const v1::ScrubStatus& st = s.status();
  if (json) {
    out << "{\"id\":" << JsonQuote(s.server_id()) << ",\"state\":" << JsonQuote(State(s))
        << ",\"chunks_checked\":" << st.chunks_checked()
        << ",\"chunks_total\":" << st.chunks_total() << ",\"bad_found\":" << st.bad_found()
        << ",\"started\":" << JsonQuote(st.started_micros() ? Time(st.started_micros()) : "")
        << ",\"finished\":" << JsonQuote(st.finished_micros() ? Time(st.finished_micros()) : "")
        << ",\"passes_completed\":" << st.passes_completed()
        << ",\"error\":" << JsonQuote(s.error()) << "}\n";
    return;
  }
  out << std::left << std::setw(34) << s.server_id() << std::setw(10) << State(s) << std::setw(16)
      << (std::to_string(st.chunks_checked()) + "/" + std::to_string(st.chunks_total()))
      << std::setw(6) << st.bad_found() << std::setw(22) << Time(st.started_micros())
      << std::setw(22) << Time(st.finished_micros()) << s.error() << "\n";
}

}  // namespace

int RunScrub(const CommandContext& ctx, const ScrubArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  if (args.action == ScrubArgs::Action::kStart) {
    v1::StartScrubMetaRequest request;
    request.set_server_id(args.server_id);
    v1::StartScrubMetaResponse response;
    grpc::Status status = ctx.admin->StartScrub(&context, request, &response);
    if (!status.ok()) {
      *ctx.err << FormatError("scrub start", FromGrpcStatus(status)) << "\n";
      return kExitFailure;
    }
    for (const std::string& id : response.server_ids())
      *ctx.out << "scrub pass started on chunk server " << id << "\n";
    *ctx.out << "`medvault scrub status` follows the progress\n";
    return kExitOk;
  }
  v1::GetScrubStatusMetaRequest request;
  request.set_server_id(args.server_id);
  v1::GetScrubStatusMetaResponse response;
  grpc::Status status = ctx.admin->GetScrubStatus(&context, request, &response);
  if (!status.ok()) {
    *ctx.err << FormatError("scrub status", FromGrpcStatus(status)) << "\n";
    return kExitFailure;
  }
  if (!args.json) {
    *ctx.out << std::left << std::setw(34) << "id" << std::setw(10) << "state" << std::setw(16)
             << "checked/total" << std::setw(6) << "bad" << std::setw(22) << "started"
             << std::setw(22) << "finished"
             << "\n";
  }
  for (const v1::ServerScrubStatus& s : response.servers()) PrintStatus(s, args.json, *ctx.out);
  return kExitOk;
}

}  // namespace medvault::cli
