// The --raft_* flags shared by every replicated service's binary.
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/env.h"
#include "common/tls.h"
#include "raft/replica.h"

namespace medvault::raft {

// Options from --raft_id, --raft_peers, --raft_bootstrap, --raft_tick_ms and
// --raft_snapshot_entries. Fellow replicas are dialled with `security` (which must outlive the
// replica) and must present a certificate naming `peer` (kMetaServerPeer, kKeyServicePeer).
ReplicaOptions ReplicaOptionsFromFlags(const std::string& service, const std::string& listen,
                                       const TransportSecurity& security, absl::string_view peer);

// The state of `group` in the backup at `path` (--restore_backup) under the key in `key_path`:
// format 2 is streamed (common/backup_stream.h: a segment and a record in memory), format 1 read
// whole. INVALID_ARGUMENT for a file that is no backup, DATA_LOSS when its header is cut short.
absl::StatusOr<std::unique_ptr<RestoreSource>> OpenBackupRestoreSource(Filesystem* fs,
                                                                       const std::string& path,
                                                                       const std::string& key_path,
                                                                       v1::RaftGroup group);

}  // namespace medvault::raft
