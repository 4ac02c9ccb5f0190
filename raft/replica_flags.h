// The --raft_* flags shared by every replicated service's binary.
#pragma once

#include <string>

#include "raft/replica.h"

namespace medvault::raft {

// Options from --raft_id, --raft_peers, --raft_bootstrap and --raft_tick_ms.
ReplicaOptions ReplicaOptionsFromFlags(const std::string& service, const std::string& listen);

}  // namespace medvault::raft
