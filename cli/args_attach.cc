// Parsing of `medvault attach --study UID FILE [--type pdf|cda|ccr|hl7v2|rtf|text]`.
#include "absl/strings/str_cat.h"
#include "cli/args.h"
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

}  // namespace medvault::cli
