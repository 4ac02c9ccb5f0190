// Arguments of `medvault raft`: status of the metaserver and key service Raft groups, and their
// membership and leadership (admin scope). Parsed here, not in args.cc, so the verb stays in one
// place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace medvault::cli {

// `raft status [GROUP] [--json]`, `raft add GROUP ID HOST:PORT`, `raft remove GROUP ID`,
// `raft transfer-leader GROUP [ID]`; GROUP is metaserver or keyservice.
struct RaftArgs {
  enum class Action { kStatus, kAdd, kRemove, kTransferLeader };
  Action action = Action::kStatus;
  std::vector<std::string> groups;  // "metaserver", "keyservice"; status: both unless one is given
  uint64_t id = 0;                  // add, remove; transfer-leader: 0 lets the leader pick
  std::string address;              // add
  bool json = false;                // status
};

// Fills `out` from the positionals after the verb. INVALID_ARGUMENT (a usage error) otherwise.
absl::Status FillRaft(bool json, const std::vector<std::string>& positionals, RaftArgs* out);

}  // namespace medvault::cli
