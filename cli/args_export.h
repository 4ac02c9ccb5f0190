// `medvault export --study UID [--study UID...] --out PATH [--format dir|zip|iso] [--no-viewer]
// [--quiet]`: its
// arguments and their parsing (kept out of args.cc, which only dispatches here).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace medvault::cli {

struct ExportArgs {
  std::vector<std::string> study_uids;
  std::string out;     // the folder, ZIP file or ISO image to create
  std::string format;  // "dir", "zip" or "iso"
  bool quiet = false;  // no progress bar
  bool viewer = true;  // the offline viewer on the medium (--no-viewer leaves it out)
};

// `flags` as ParseArgs collected them (a repeated --study arrives joined by '\n'). Without
// --format, PATH ending in .zip or .iso (any case) says which; anything else is a folder.
absl::Status FillExport(const std::map<std::string, std::string>& flags,
                        const std::vector<std::string>& positionals, ExportArgs* out);

}  // namespace medvault::cli
