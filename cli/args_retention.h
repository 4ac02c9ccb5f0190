// `medvault retention set|clear|hold|release|show`: its arguments and their parsing (kept out of
// args.cc, which only dispatches here).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace medvault::cli {

struct RetentionArgs {
  enum class Action { kSet, kClear, kHold, kRelease, kShow };
  Action action = Action::kShow;
  std::string study_uid;
  uint32_t days = 0;              // set --days N
  bool after_last_share = false;  // set --after-last-share
  bool json = false;              // show
};

// `flags` as ParseArgs collected them; `positionals` after the verb.
absl::Status FillRetention(const std::map<std::string, std::string>& flags,
                           const std::vector<std::string>& positionals, RetentionArgs* out);

}  // namespace medvault::cli
