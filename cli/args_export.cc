#include "cli/args_export.h"
#include "cli/args_verb.h"

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

namespace {

absl::Status FillExportVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                            Command* cmd) {
  return FillExport(flags, positionals, &cmd->export_);
}

}  // namespace

const VerbSpec& ExportVerb() {
  static const VerbSpec spec{
      Verb::kExport,
      "export",
      {{"quiet", false},
       {"study", true, /*repeated=*/true},
       {"out", true},
       {"format", true},
       {"no-viewer", false}},
      FillExportVerb,
      R"(  export --study UID [--study UID...] --out PATH [--format dir|zip|iso] [--no-viewer] [--quiet]
      Write the studies as an IHE PDI medium (a DICOMDIR, DICOM/ with each instance as stored,
      README.TXT, INDEX.HTM) into a new folder, a ZIP file or an ISO 9660 image (the format
      follows PATH's .zip/.iso ending unless --format says). A progress bar on a terminal.
      --no-viewer leaves out the offline browser viewer (VIEWER/), which costs ~4/3 of the images.
)"};
  return spec;
}

}  // namespace medvault::cli
