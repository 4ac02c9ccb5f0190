// Parsing of `medvault find [--patient ID] [--modality M] [--from D] [--to D] [--limit N]
// [--json]`.
#include "absl/strings/ascii.h"
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillFind(const FlagValues& flags, const std::vector<std::string>& positionals,
                      Command* cmd) {
  FindArgs* find = &cmd->find;
  if (absl::Status s = NoPositionals(Verb::kFind, positionals); !s.ok()) return s;
  find->patient_id = FlagValue(flags, "patient");
  find->modality = absl::AsciiStrToUpper(FlagValue(flags, "modality"));
  if (flags.count("from")) {
    auto d = ParseDate("from", FlagValue(flags, "from"));
    if (!d.ok()) return d.status();
    find->date_from = *d;
  }
  if (flags.count("to")) {
    auto d = ParseDate("to", FlagValue(flags, "to"));
    if (!d.ok()) return d.status();
    find->date_to = *d;
  }
  if (!find->date_from.empty() && !find->date_to.empty() && find->date_from > find->date_to) {
    return absl::InvalidArgumentError("find: --from is after --to");
  }
  if (flags.count("limit")) {
    auto n = ParseCount("limit", FlagValue(flags, "limit"));
    if (!n.ok()) return n.status();
    find->limit = *n;
  }
  find->json = flags.count("json") > 0;
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& FindVerb() {
  static const VerbSpec spec{
      Verb::kFind,
      "find",
      {{"patient", true},
       {"modality", true},
       {"from", true},
       {"to", true},
       {"limit", true},
       {"json", false}},
      FillFind,
      R"(  find [--patient ID] [--modality M] [--from YYYYMMDD] [--to YYYYMMDD] [--limit N] [--json]
      List matching studies as a table, or as a JSON array with --json. Each study's documents
      (reports stored by attach, any Encapsulated PDF/CDA) follow the table as lines
      "document STUDY_UID MEDIA_TYPE SIZE SOP_UID" (--json: "documents", with mime_type).
)"};
  return spec;
}

}  // namespace medvault::cli
