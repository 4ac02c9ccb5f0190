// Parsing of `medvault import PATH [--jobs N] [--quiet]`.
#include "absl/strings/str_cat.h"
#include "cli/args.h"

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

}  // namespace medvault::cli
