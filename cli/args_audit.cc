// Parsing of `medvault audit verify` (the rest of `audit` is parsed in args.cc).
#include "absl/strings/str_cat.h"
#include "cli/args.h"

namespace medvault::cli {

absl::Status FillAuditVerify(const std::map<std::string, std::string>& flags,
                             const std::vector<std::string>& positionals, AuditArgs* out) {
  if (positionals.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit verify: unexpected argument '", positionals[1], "'"));
  }
  for (const char* query_only : {"object", "since", "until", "limit"}) {
    if (flags.count(query_only)) {
      return absl::InvalidArgumentError(absl::StrCat("audit verify: --", query_only,
                                                     " does not apply (it checks the whole log)"));
    }
  }
  out->verify = true;
  out->sign = flags.count("sign") > 0;
  out->json = flags.count("json") > 0;
  return absl::OkStatus();
}

}  // namespace medvault::cli
