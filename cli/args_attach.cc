// Parsing of `medvault attach --study UID FILE [--type pdf|cda|ccr|hl7v2|rtf|text]`.
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"
#include "cli/document.h"

namespace medvault::cli {

absl::Status FillAttach(const std::vector<std::string>& positionals, const std::string& study,
                        const std::string& type, AttachArgs* attach) {
  if (study.empty()) return absl::InvalidArgumentError("attach: --study UID is required");
  if (positionals.empty()) return absl::InvalidArgumentError("attach: no FILE given");
  if (positionals.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("attach: one FILE at a time, not also '", positionals[1], "'"));
  }
  if (!type.empty() && !ParseDocumentType(type)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attach: --type wants one of pdf, cda, ccr, hl7v2, rtf, text, not '", type, "'"));
  }
  attach->study_uid = study;
  attach->path = positionals[0];
  attach->type = type;
  return absl::OkStatus();
}

namespace {

absl::Status FillAttachVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                            Command* cmd) {
  return FillAttach(positionals, FlagValue(flags, "study"), FlagValue(flags, "type"), &cmd->attach);
}

}  // namespace

const VerbSpec& AttachVerb() {
  static const VerbSpec spec{Verb::kAttach,
                             "attach",
                             {{"study", true}, {"type", true}},
                             FillAttachVerb,
                             R"(  attach --study UID FILE [--type pdf|cda|ccr|hl7v2|rtf|text]
      Store a report or other document with a stored study, as a DICOM Encapsulated Document
      instance carrying the study's patient and study attributes (PDF and CDA in their standard
      SOP classes). The type is guessed from the content when --type is absent; a file that is
      not what its type says, an empty file or an unknown study is refused and nothing is
      stored. Prints the new instance's SOP Instance UID.
)"};
  return spec;
}

}  // namespace medvault::cli
