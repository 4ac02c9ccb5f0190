// `medvault share ...`: shares of studies with a recipient (access code + PIN), over the
// frontend's ImageStore API. The code and PIN are printed once, by create, on stdout only.
#include <iomanip>

#include "absl/strings/str_join.h"
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

std::string Uses(const v1::ShareInfo& s) {
  return std::to_string(s.uses()) + "/" + (s.max_uses() ? std::to_string(s.max_uses()) : "-");
}

void PrintJson(const v1::ShareInfo& s, std::ostream& out) {
  std::vector<std::string> studies;
  for (const std::string& uid : s.study_uids()) studies.push_back(JsonQuote(uid));
  out << "{\"id\":" << JsonQuote(s.share_id()) << ",\"state\":" << JsonQuote(s.state())
      << ",\"studies\":[" << absl::StrJoin(studies, ",") << "]"
      << ",\"created\":" << JsonQuote(Time(s.created_at_micros()))
      << ",\"expires\":" << JsonQuote(Time(s.expires_at_micros())) << ",\"uses\":" << s.uses()
      << ",\"max_uses\":" << s.max_uses()
      << ",\"download\":" << (s.download_allowed() ? "true" : "false")
      << ",\"failed_attempts\":" << s.failed_attempts()
      << ",\"revoked\":" << JsonQuote(s.revoked_at_micros() ? Time(s.revoked_at_micros()) : "")
      << ",\"label\":" << JsonQuote(s.label()) << ",\"created_by\":" << JsonQuote(s.created_by())
      << "}";
}

void PrintDetail(const v1::ShareInfo& s, std::ostream& out) {
  out << "share " << s.share_id() << "\n"
      << "  state:     " << s.state() << "\n"
      << "  studies:   " << absl::StrJoin(s.study_uids(), " ") << "\n"
      << "  created:   " << Time(s.created_at_micros()) << " by " << s.created_by() << "\n"
      << "  expires:   " << Time(s.expires_at_micros()) << "\n"
      << "  uses:      " << Uses(s) << "\n"
      << "  download:  " << (s.download_allowed() ? "allowed" : "not allowed") << "\n"
      << "  wrong PINs: " << s.failed_attempts() << "\n"
      << "  label:     " << s.label() << "\n";
}

int Fail(const CommandContext& ctx, const char* what, const grpc::Status& status) {
  *ctx.err << FormatError(what, FromGrpcStatus(status)) << "\n";
  return kExitFailure;
}

int Create(const CommandContext& ctx, const ShareArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::CreateShareRequest request;
  for (const std::string& uid : args.study_uids) request.add_study_uids(uid);
  request.set_expires_in_seconds(args.expires_seconds);
  request.set_max_uses(args.max_uses);
  request.set_no_download(args.no_download);
  request.set_label(args.label);
  v1::CreateShareResponse response;
  grpc::Status status = ctx.stub->CreateShare(&context, request, &response);
  if (!status.ok()) return Fail(ctx, "share create", status);
  if (args.json) {
    *ctx.out << "{\"access_code\":" << JsonQuote(response.access_code())
             << ",\"pin\":" << JsonQuote(response.pin()) << ",\"share\":";
    PrintJson(response.share(), *ctx.out);
    *ctx.out << "}\n";
    return kExitOk;
  }
  *ctx.out << "access code: " << response.access_code() << "\n"
           << "PIN:         " << response.pin() << "\n"
           << "share id:    " << response.share().share_id() << "\n"
           << "expires:     " << Time(response.share().expires_at_micros()) << "\n"
           << "Give the code and the PIN to the recipient separately; they are not shown again.\n";
  return kExitOk;
}

int List(const CommandContext& ctx, const ShareArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::ListSharesResponse response;
  grpc::Status status = ctx.stub->ListShares(&context, v1::ListSharesRequest(), &response);
  if (!status.ok()) return Fail(ctx, "share list", status);
  if (!args.json) {
    *ctx.out << std::left << std::setw(18) << "id" << std::setw(9) << "state" << std::setw(22)
             << "expires" << std::setw(8) << "uses" << std::setw(8) << "studies"
             << "label\n";
  }
  for (const v1::ShareInfo& s : response.shares()) {
    if (args.json) {
      PrintJson(s, *ctx.out);
      *ctx.out << "\n";
      continue;
    }
    *ctx.out << std::left << std::setw(18) << s.share_id() << std::setw(9) << s.state()
             << std::setw(22) << Time(s.expires_at_micros()) << std::setw(8) << Uses(s)
             << std::setw(8) << s.study_uids_size() << s.label() << "\n";
  }
  return kExitOk;
}

int Log(const CommandContext& ctx, const ShareArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::ShareRequest request;
  request.set_share(args.share);
  v1::GetShareLogResponse response;
  grpc::Status status = ctx.stub->GetShareLog(&context, request, &response);
  if (!status.ok()) return Fail(ctx, "share log", status);
  for (const v1::ShareLogEntry& e : response.entries()) {
    if (args.json) {
      *ctx.out << "{\"at\":" << JsonQuote(Time(e.at_micros()))
               << ",\"peer\":" << JsonQuote(e.peer()) << ",\"action\":" << JsonQuote(e.action())
               << ",\"detail\":" << JsonQuote(e.detail()) << ",\"result\":" << JsonQuote(e.result())
               << ",\"reason\":" << JsonQuote(e.reason()) << ",\"actor\":" << JsonQuote(e.actor())
               << "}\n";
      continue;
    }
    *ctx.out << Time(e.at_micros()) << " " << std::left << std::setw(8) << e.action()
             << std::setw(8) << e.result() << (e.peer().empty() ? e.actor() : e.peer());
    if (!e.reason().empty()) *ctx.out << " (" << e.reason() << ")";
    if (!e.detail().empty()) *ctx.out << " " << e.detail();
    *ctx.out << "\n";
  }
  return kExitOk;
}

}  // namespace

int RunShare(const CommandContext& ctx, const ShareArgs& args) {
  switch (args.action) {
    case ShareArgs::Action::kCreate:
      return Create(ctx, args);
    case ShareArgs::Action::kList:
      return List(ctx, args);
    case ShareArgs::Action::kLog:
      return Log(ctx, args);
    case ShareArgs::Action::kShow:
    case ShareArgs::Action::kRevoke:
    case ShareArgs::Action::kUnlock:
      break;
  }
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::ShareRequest request;
  request.set_share(args.share);
  v1::ShareResponse response;
  grpc::Status status;
  const char* what = "share show";
  if (args.action == ShareArgs::Action::kShow) {
    status = ctx.stub->GetShare(&context, request, &response);
  } else if (args.action == ShareArgs::Action::kRevoke) {
    what = "share revoke";
    status = ctx.stub->RevokeShare(&context, request, &response);
  } else {
    what = "share unlock";
    status = ctx.stub->UnlockShare(&context, request, &response);
  }
  if (!status.ok()) return Fail(ctx, what, status);
  if (args.json) {
    PrintJson(response.share(), *ctx.out);
    *ctx.out << "\n";
  } else {
    PrintDetail(response.share(), *ctx.out);
  }
  return kExitOk;
}

}  // namespace medvault::cli
