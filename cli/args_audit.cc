// Parsing of `medvault audit [--object ID] [--since T] [--until T] [--limit N] [--json]` and
// `audit verify [--sign] [--json]`.
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

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

namespace {

absl::Status FillAudit(const FlagValues& flags, const std::vector<std::string>& positionals,
                       Command* cmd) {
  AuditArgs* out = &cmd->audit;
  if (!positionals.empty() && positionals[0] == "verify") {
    return FillAuditVerify(flags, positionals, out);
  }
  if (absl::Status s = NoPositionals(Verb::kAudit, positionals); !s.ok()) return s;
  if (flags.count("sign")) return absl::InvalidArgumentError("audit: --sign goes with verify");
  const std::string object = FlagValue(flags, "object");
  if (!object.empty()) {
    bool hex = object.size() == 32;
    for (char c : object) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (!hex) return absl::InvalidArgumentError("--object wants an object id of 32 hex digits");
    out->object_id = absl::HexStringToBytes(object);
  }
  if (flags.count("since")) {
    auto t = ParseTimeFlag("since", flags.at("since"));
    if (!t.ok()) return t.status();
    out->since_micros = *t;
  }
  if (flags.count("until")) {
    auto t = ParseTimeFlag("until", flags.at("until"));
    if (!t.ok()) return t.status();
    out->until_micros = *t;
  }
  if (out->until_micros != 0 && out->until_micros <= out->since_micros) {
    return absl::InvalidArgumentError("audit: --until must be after --since");
  }
  if (flags.count("limit")) {
    auto n = ParseCount("limit", flags.at("limit"));
    if (!n.ok()) return n.status();
    out->limit = *n;
  }
  out->json = flags.count("json") > 0;
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& AuditVerb() {
  static const VerbSpec spec{
      Verb::kAudit,
      "audit",
      {{"limit", true},
       {"json", false},
       {"object", true},
       {"since", true},
       {"until", true},
       {"sign", false}},
      FillAudit,
      R"(  audit [--object ID] [--since TIME] [--until TIME] [--limit N] [--json]
      The key service's audit log: every key generation, release and destruction and every
      refused call, oldest first. ID is an object id (32 hex digits, as the logs print it); TIME
      is RFC 3339 (2026-11-23T13:00:00Z) or Unix seconds. Needs the admin scope.
  audit verify [--sign] [--json]
      Check the audit log's hash chain and signed heads; report the first bad record by position
      and time. --sign signs the current head first. Admin or audit scope; exit 1 if bad.
)"};
  return spec;
}

}  // namespace medvault::cli
