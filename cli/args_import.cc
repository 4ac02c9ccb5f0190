// Parsing of `medvault import PATH [--jobs N] [--quiet]`.
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

namespace medvault::cli {

absl::Status FillImport(const std::vector<std::string>& positionals, int jobs, bool quiet,
                        ImportArgs* import) {
  if (positionals.empty()) return absl::InvalidArgumentError("import: no PATH given");
  if (positionals.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("import: one PATH at a time, not also '", positionals[1], "'"));
  }
  if (positionals[0].empty()) return absl::InvalidArgumentError("import: PATH must not be empty");
  import->path = positionals[0];
  import->jobs = jobs;
  import->quiet = quiet;
  return absl::OkStatus();
}

namespace {

absl::Status FillImportVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                            Command* cmd) {
  auto jobs = ParseJobs(flags);
  if (!jobs.ok()) return jobs.status();
  return FillImport(positionals, *jobs, flags.count("quiet") > 0, &cmd->import);
}

}  // namespace

const VerbSpec& ImportVerb() {
  static const VerbSpec spec{Verb::kImport,
                             "import",
                             {{"jobs", true}, {"quiet", false}},
                             FillImportVerb,
                             R"(  import PATH [--jobs N] [--quiet]
      Store what a folder, mounted CD/DVD/USB medium, ZIP file or ISO image holds: the files its
      DICOMDIR references, or without one every DICOM file below PATH. Instances already stored
      are skipped (safe to run again). A progress bar on a terminal (--quiet: none); a summary of
      stored, already stored and refused files (with each reason); exit 1 if any was refused.
)"};
  return spec;
}

}  // namespace medvault::cli
