// Parsing of `medvault put PATH... [--jobs N] [--quiet]`.
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillPut(const FlagValues& flags, const std::vector<std::string>& positionals,
                     Command* cmd) {
  if (positionals.empty()) return absl::InvalidArgumentError("put: no PATH given");
  cmd->put.paths = positionals;
  auto jobs = ParseJobs(flags);
  if (!jobs.ok()) return jobs.status();
  cmd->put.jobs = *jobs;
  cmd->put.quiet = flags.count("quiet") > 0;
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& PutVerb() {
  static const VerbSpec spec{Verb::kPut,
                             "put",
                             {{"jobs", true}, {"quiet", false}},
                             FillPut,
                             R"(  put PATH... [--jobs N] [--quiet]
      Store files, or every regular file under folders (recursively, in sorted order).
      --jobs N files at a time (default 4). One progress line per file on stderr; exit 1 if
      any file failed.
)"};
  return spec;
}

}  // namespace medvault::cli
