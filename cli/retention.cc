// `medvault retention ...`: a study's retention rule (delete N days after ingest, or once its last
// share has ended; delete scope) and legal hold (admin scope), over the frontend's ImageStore API.
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

void Print(const v1::RetentionInfo& r, bool stored, bool json, std::ostream& out) {
  if (json) {
    out << "{\"retention\":" << JsonQuote(RetentionText(r)) << ",\"state\":" << JsonQuote(r.state())
        << ",\"days_after_ingest\":" << r.rule().days_after_ingest()
        << ",\"after_last_share\":" << (r.rule().after_last_share() ? "true" : "false")
        << ",\"due\":" << JsonQuote(r.due_at_micros() ? Time(r.due_at_micros()) : "")
        << ",\"rule_set_by\":" << JsonQuote(r.rule_set_by())
        << ",\"hold\":" << (r.hold() ? "true" : "false")
        << ",\"hold_set_by\":" << JsonQuote(r.hold_set_by())
        << ",\"study_stored\":" << (stored ? "true" : "false") << "}\n";
    return;
  }
  out << "retention: " << RetentionText(r) << "\n";
  if (!r.rule_set_by().empty())
    out << "  rule set:  " << Time(r.rule_set_at_micros()) << " by " << r.rule_set_by() << "\n";
  if (r.hold())
    out << "  held:      " << Time(r.hold_set_at_micros()) << " by " << r.hold_set_by() << "\n";
  if (!stored) out << "  (the study is not stored yet: the rule applies once it arrives)\n";
}

int Fail(const CommandContext& ctx, const std::string& what, const grpc::Status& status) {
  *ctx.err << FormatError(what, FromGrpcStatus(status)) << "\n";
  return kExitFailure;
}

}  // namespace

int RunRetention(const CommandContext& ctx, const RetentionArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::RetentionResponse response;
  grpc::Status status;
  std::string what = "retention";
  switch (args.action) {
    case RetentionArgs::Action::kSet:
    case RetentionArgs::Action::kClear: {
      v1::SetRetentionRequest request;
      request.set_study_uid(args.study_uid);
      request.mutable_rule()->set_days_after_ingest(args.days);
      request.mutable_rule()->set_after_last_share(args.after_last_share);
      request.set_clear(args.action == RetentionArgs::Action::kClear);
      status = ctx.stub->SetRetention(&context, request, &response);
      break;
    }
    case RetentionArgs::Action::kHold:
    case RetentionArgs::Action::kRelease: {
      v1::SetLegalHoldRequest request;
      request.set_study_uid(args.study_uid);
      request.set_hold(args.action == RetentionArgs::Action::kHold);
      status = ctx.stub->SetLegalHold(&context, request, &response);
      break;
    }
    case RetentionArgs::Action::kShow: {
      v1::GetStudyRequest request;
      request.set_study_uid(args.study_uid);
      v1::GetStudyResponse study;
      status = ctx.stub->GetStudy(&context, request, &study);
      if (!status.ok()) return Fail(ctx, what, status);
      Print(study.study().retention(), true, args.json, *ctx.out);
      return kExitOk;
    }
  }
  if (!status.ok()) return Fail(ctx, what, status);
  Print(response.retention(), response.study_stored(), args.json, *ctx.out);
  return kExitOk;
}

}  // namespace medvault::cli
