// The --raft_* flags shared by every replicated service's binary.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "common/tls.h"
#include "raft/replica.h"

namespace medvault::raft {

// Options from --raft_id, --raft_peers, --raft_bootstrap, --raft_tick_ms and
// --raft_snapshot_entries. Fellow replicas are dialled with `security` (which must outlive the
// replica) and must present a certificate naming `peer` (kMetaServerPeer, kKeyServicePeer).
ReplicaOptions ReplicaOptionsFromFlags(const std::string& service, const std::string& listen,
                                       const TransportSecurity& security, absl::string_view peer);

}  // namespace medvault::raft
