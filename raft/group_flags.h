// Parsing of the flags that place a replica in its Raft group: --raft_peers "1=host:port,2=...".
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "raft/raft.h"

namespace medvault::raft {

// "1=127.0.0.1:7610,2=127.0.0.1:7611" → {1: ..., 2: ...}. INVALID_ARGUMENT on a malformed entry,
// a zero or repeated id.
absl::StatusOr<std::map<uint64_t, std::string>> ParsePeers(absl::string_view flag);

// The initial membership: every peer a voter.
Config MembershipOf(const std::map<uint64_t, std::string>& peers);

}  // namespace medvault::raft
