#include "cli/args_export.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medvault::cli {

absl::Status FillExport(const std::map<std::string, std::string>& flags,
                        const std::vector<std::string>& positionals, ExportArgs* out) {
  if (!positionals.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("export: unexpected argument '", positionals[0], "'"));
  }
  auto study = flags.find("study");
  if (study == flags.end()) return absl::InvalidArgumentError("export: give --study UID");
  for (absl::string_view uid : absl::StrSplit(study->second, '\n')) {
    if (uid.empty()) return absl::InvalidArgumentError("export: --study must not be empty");
    out->study_uids.emplace_back(uid);
  }
  auto path = flags.find("out");
  if (path == flags.end() || path->second.empty()) {
    return absl::InvalidArgumentError("export: give --out PATH (a new folder, ZIP file or ISO)");
  }
  out->out = path->second;
  auto format = flags.find("format");
  if (format != flags.end()) {
    out->format = absl::AsciiStrToLower(format->second);
    if (out->format != "dir" && out->format != "zip" && out->format != "iso") {
      return absl::InvalidArgumentError(
          absl::StrCat("export: --format must be dir, zip or iso, not '", format->second, "'"));
    }
  } else {
    const std::string lower = absl::AsciiStrToLower(out->out);
    out->format = absl::EndsWith(lower, ".zip")   ? "zip"
                  : absl::EndsWith(lower, ".iso") ? "iso"
                                                  : "dir";
  }
  out->quiet = flags.count("quiet") > 0;
  out->viewer = flags.count("no-viewer") == 0;
  return absl::OkStatus();
}

}  // namespace medvault::cli
