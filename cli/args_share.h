// `medvault share create|list|show|revoke|unlock|log`: its arguments and their parsing (kept out of
// args.cc, which only dispatches here).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medvault::cli {

struct ShareArgs {
  enum class Action { kCreate, kList, kShow, kRevoke, kUnlock, kLog };
  Action action = Action::kList;
  std::vector<std::string> study_uids;  // create
  int64_t expires_seconds = 0;          // create; 0: the server's default (30 days)
  uint32_t max_uses = 0;                // create; 0: unlimited
  bool no_download = false;             // create
  std::string label;                    // create
  std::string share;                    // show, revoke, unlock, log: access code or share id
  bool json = false;                    // list, show, log (and create)
};

// `flags` as ParseArgs collected them (a repeated --study arrives joined by '\n').
absl::Status FillShare(const std::map<std::string, std::string>& flags,
                       const std::vector<std::string>& positionals, ShareArgs* out);

// "30d", "12h", "90m", "3600s" or plain seconds; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseExpiry(const std::string& value);

}  // namespace medvault::cli
