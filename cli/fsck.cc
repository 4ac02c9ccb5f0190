// `medvault fsck`: page through Admin.CheckIndex and list the index entries that break the index's
// rules (common/index_fields.h), so damage written before the rules existed can be found.
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

// A stored value as a table shows it: escaped, and cut after this many bytes (a hex-dumped UID
// runs to hundreds).
constexpr size_t kShownBytes = 96;

std::string Shown(const std::string& value) {
  if (value.empty()) return "-";
  if (value.size() <= kShownBytes) return absl::CHexEscape(value);
  return absl::StrCat(absl::CHexEscape(value.substr(0, kShownBytes)), "...(", value.size(),
                      " bytes)");
}

void PrintProblem(const v1::IndexProblem& p, bool json, std::ostream& out) {
  if (json) {
    out << "{\"sop_instance_uid\":" << JsonQuote(p.sop_instance_uid())
        << ",\"study_uid\":" << JsonQuote(p.study_uid())
        << ",\"attribute\":" << JsonQuote(p.attribute()) << ",\"rule\":" << JsonQuote(p.rule())
        << "}\n";
    return;
  }
  out << "instance " << Shown(p.sop_instance_uid()) << " (study " << Shown(p.study_uid())
      << "): " << p.attribute() << " " << p.rule() << "\n";
}

}  // namespace

int RunFsck(const CommandContext& ctx, const FsckArgs& args) {
  v1::CheckIndexRequest request;
  uint64_t scanned = 0, problems = 0;
  for (;;) {
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    v1::CheckIndexResponse response;
    grpc::Status status = ctx.admin->CheckIndex(&context, request, &response);
    if (!status.ok()) {
      *ctx.err << FormatError("fsck", FromGrpcStatus(status)) << "\n";
      return kExitFailure;
    }
    scanned += response.scanned();
    for (const v1::IndexProblem& p : response.problems()) {
      ++problems;
      PrintProblem(p, args.json, *ctx.out);
    }
    if (response.next_page_token().empty()) break;
    if (response.next_page_token() == request.page_token()) {
      *ctx.err << "fsck: the server returned the same page token twice\n";
      return kExitFailure;
    }
    request.set_page_token(response.next_page_token());
  }
  ctx.out->flush();
  *ctx.err << "fsck: " << scanned << " instance records checked, " << problems
           << (problems == 1 ? " problem" : " problems") << "\n";
  return problems == 0 ? kExitOk : kExitFailure;
}

}  // namespace medvault::cli
