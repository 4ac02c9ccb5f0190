// `medvault kek` and `medvault audit`: the operator verbs, over the frontend's Admin service.
#include <iomanip>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

constexpr uint32_t kAuditPage = 1000;

absl::StatusOr<v1::GetKekStatusResponse> KekStatus(const CommandContext& ctx) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::GetKekStatusResponse response;
  grpc::Status status = ctx.admin->GetKekStatus(&context, v1::GetKekStatusRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

void PrintKekStatus(const v1::GetKekStatusResponse& st, std::ostream& out) {
  out << "active KEK version: " << st.active_version() << "\n"
      << "stored keys: " << st.total_keys() << ", to rewrap: " << st.keys_to_rewrap() << "\n"
      << "version  keys        loaded  retired\n";
  for (const v1::KekVersionStatus& v : st.versions()) {
    out << std::left << std::setw(9) << v.version() << std::setw(12) << v.keys() << std::setw(8)
        << (v.loaded() ? "yes" : "no") << (v.retired() ? "yes" : "no") << "\n";
  }
}

std::string FormatMicros(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string HexIds(const v1::AuditRecord& r) {
  return absl::StrJoin(r.object_ids(), ",", [](std::string* out, const std::string& id) {
    out->append(absl::BytesToHexString(id));
  });
}

void PrintRecord(const v1::AuditRecord& r, bool json, std::ostream& out) {
  if (json) {
    out << "{\"time\":" << JsonQuote(FormatMicros(r.time_micros()))
        << ",\"op\":" << JsonQuote(r.op()) << ",\"caller\":" << JsonQuote(r.caller())
        << ",\"on_behalf_of\":" << JsonQuote(r.on_behalf_of())
        << ",\"purpose\":" << JsonQuote(r.purpose()) << ",\"peer\":" << JsonQuote(r.peer())
        << ",\"result\":" << JsonQuote(r.result()) << ",\"kek_version\":" << r.kek_version()
        << ",\"object_ids\":[";
    for (int i = 0; i < r.object_ids_size(); ++i) {
      out << (i ? "," : "") << JsonQuote(absl::BytesToHexString(r.object_ids(i)));
    }
    out << "]}\n";
    return;
  }
  out << FormatMicros(r.time_micros()) << " " << r.op() << " caller=" << r.caller()
      << " on_behalf_of=" << (r.on_behalf_of().empty() ? "-" : r.on_behalf_of())
      << " purpose=" << (r.purpose().empty() ? "-" : r.purpose())
      << (r.peer().empty() ? "" : " peer=" + r.peer()) << " result=" << r.result()
      << " kek_version=" << r.kek_version() << " objects=" << HexIds(r) << "\n";
}

}  // namespace

int RunKek(const CommandContext& ctx, const KekArgs& args) {
  if (args.action == KekArgs::Action::kStatus) {
    absl::StatusOr<v1::GetKekStatusResponse> st = KekStatus(ctx);
    if (!st.ok()) {
      *ctx.err << FormatError("kek", st.status()) << "\n";
      return kExitFailure;
    }
    PrintKekStatus(*st, *ctx.out);
    return kExitOk;
  }
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  grpc::Status status;
  if (args.action == KekArgs::Action::kRetire) {
    v1::RetireKekRequest request;
    request.set_version(args.version);
    v1::RetireKekResponse response;
    status = ctx.admin->RetireKek(&context, request, &response);
    if (status.ok())
      *ctx.out << "retired KEK version " << args.version << "; its key file may now be deleted\n";
  } else {
    v1::RotateKekRequest request;
    request.set_version(args.version);
    v1::RotateKekResponse response;
    status = ctx.admin->RotateKek(&context, request, &response);
    if (status.ok()) {
      *ctx.out << "KEK version " << args.version << " now wraps new keys; "
               << response.keys_to_rewrap() << " stored keys to rewrap in the background\n";
    }
  }
  if (!status.ok()) {
    *ctx.err << FormatError("kek", FromGrpcStatus(status)) << "\n";
    return kExitFailure;
  }
  if (args.action != KekArgs::Action::kRotate || args.wait == absl::ZeroDuration()) return kExitOk;
  // Follow the rewrap: the key service reports progress; poll it until done or out of time.
  const absl::Time deadline = absl::Now() + args.wait;
  uint64_t last = UINT64_MAX;
  while (true) {
    absl::StatusOr<v1::GetKekStatusResponse> st = KekStatus(ctx);
    if (!st.ok()) {
      *ctx.err << FormatError("kek", st.status()) << "\n";
      return kExitFailure;
    }
    if (st->keys_to_rewrap() != last) {
      *ctx.err << "rewrap: " << st->keys_to_rewrap() << " of " << st->total_keys()
               << " keys left\n";
      last = st->keys_to_rewrap();
    }
    if (st->keys_to_rewrap() == 0) {
      *ctx.out << "rotation to KEK version " << st->active_version() << " complete\n";
      return kExitOk;
    }
    if (absl::Now() >= deadline) {
      *ctx.err << "medvault: kek: rotation still running after --wait; see `medvault kek status`\n";
      return kExitFailure;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

int RunAudit(const CommandContext& ctx, const AuditArgs& args) {
  if (args.verify) return RunAuditVerify(ctx, args);
  v1::QueryAuditRequest request;
  request.set_object_id(args.object_id);
  request.set_since_micros(args.since_micros);
  request.set_until_micros(args.until_micros);
  uint64_t printed = 0;
  do {
    uint64_t want = kAuditPage;
    if (args.limit > 0) want = std::min<uint64_t>(want, args.limit - printed);
    request.set_limit(static_cast<uint32_t>(want));
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    v1::QueryAuditResponse response;
    grpc::Status status = ctx.admin->QueryAudit(&context, request, &response);
    if (!status.ok()) {
      *ctx.err << FormatError("audit", FromGrpcStatus(status)) << "\n";
      return kExitFailure;
    }
    for (const v1::AuditRecord& r : response.records()) PrintRecord(r, args.json, *ctx.out);
    printed += response.records_size();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && (args.limit == 0 || printed < args.limit));
  return kExitOk;
}

}  // namespace medvault::cli
