#include "raft/group_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medvault::raft {

absl::StatusOr<std::map<uint64_t, std::string>> ParsePeers(absl::string_view flag) {
  std::map<uint64_t, std::string> peers;
  for (absl::string_view entry : absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t eq = entry.find('=');
    uint64_t id = 0;
    if (eq == absl::string_view::npos || !absl::SimpleAtoi(entry.substr(0, eq), &id) || id == 0 ||
        eq + 1 == entry.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("raft peer '", entry, "' is not ID=HOST:PORT with ID > 0"));
    }
    if (!peers.emplace(id, std::string(entry.substr(eq + 1))).second) {
      return absl::InvalidArgumentError(absl::StrCat("raft peer id ", id, " appears twice"));
    }
  }
  if (peers.empty()) return absl::InvalidArgumentError("no raft peers given");
  return peers;
}

Config MembershipOf(const std::map<uint64_t, std::string>& peers) {
  Config config;
  for (const auto& [id, address] : peers) {
    auto* m = config.add_members();
    m->set_id(id);
    m->set_address(address);
  }
  return config;
}

}  // namespace medvault::raft
