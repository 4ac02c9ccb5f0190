// `medvault audit verify`: the key service checks its audit hash chain and signed heads.
#include <algorithm>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

std::string When(int64_t micros) {
  if (micros == 0) return "unknown";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

}  // namespace

int RunAuditVerify(const CommandContext& ctx, const AuditArgs& args) {
  v1::VerifyAuditRequest request;
  request.set_sign_head(args.sign);
  grpc::ClientContext context;
  SetDeadline(&context, std::max(ctx.timeout, absl::Minutes(5)));  // walks the whole log
  v1::VerifyAuditResponse r;
  grpc::Status status = ctx.admin->VerifyAudit(&context, request, &r);
  if (!status.ok()) {
    *ctx.err << FormatError("audit verify", FromGrpcStatus(status)) << "\n";
    return kExitFailure;
  }
  if (args.json) {
    *ctx.out << "{\"ok\":" << (r.ok() ? "true" : "false")
             << ",\"records_checked\":" << r.records_checked()
             << ",\"signed_heads_checked\":" << r.signed_heads_checked()
             << ",\"head_position\":" << r.head_position()
             << ",\"signed_position\":" << r.signed_position()
             << ",\"unchained_records\":" << r.unchained_records();
    if (!r.ok()) {
      *ctx.out << ",\"first_bad_position\":" << r.first_bad_position()
               << ",\"first_bad_time\":" << JsonQuote(When(r.first_bad_time_micros()))
               << ",\"problem\":" << JsonQuote(r.problem());
    }
    *ctx.out << "}\n";
  } else if (r.ok()) {
    *ctx.out << "audit log OK: " << r.records_checked() << " records chained, "
             << r.signed_heads_checked() << " signed heads (latest at position "
             << r.signed_position() << ")";
    if (r.unchained_records() > 0) {
      *ctx.out << ", " << r.unchained_records() << " records from before the chain";
    }
    *ctx.out << "\n";
  } else {
    *ctx.out << "audit log BAD at position " << r.first_bad_position() << " (time "
             << When(r.first_bad_time_micros()) << "): " << r.problem() << "\n";
  }
  return r.ok() ? kExitOk : kExitFailure;
}

}  // namespace medvault::cli
