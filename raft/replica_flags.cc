#include "raft/replica_flags.h"

#include "absl/flags/flag.h"
#include "common/backup_file.h"
#include "common/rpc.h"

ABSL_FLAG(uint64_t, raft_id, 1, "This replica's id in --raft_peers");
ABSL_FLAG(
    std::string, raft_peers, "",
    "The replica group: ID=HOST:PORT,... (every replica's gRPC address). Empty: a group of one");
ABSL_FLAG(
    bool, raft_bootstrap, false,
    "Found a new group from --raft_peers if this replica holds no Raft state. Give it only when "
    "creating a cluster; a replica that lost its disk must rejoin without it");
ABSL_FLAG(int64_t, raft_tick_ms, 100,
          "Raft tick; heartbeats every tick, elections after 10-20 ticks");
ABSL_FLAG(
    uint64_t, raft_snapshot_entries, 10000,
    "Compact the Raft log once it holds this many applied entries (lagging or new replicas then "
    "catch up from a snapshot)");
ABSL_FLAG(bool, raft_lease_reads, true,
          "Serve linearizable reads on the leader from its lease (no round of heartbeats per read) "
          "while a majority acknowledged it within the last 9 ticks, less 10% for clock drift; "
          "false: a ReadIndex round per read");

ABSL_FLAG(
    std::string, restore_backup, "",
    "A backup file (medvault backup create) whose state of this service's group a NEW group "
    "starts from: used only when this replica holds no Raft state, which then founds the group "
    "from --raft_peers. Give it to every founding replica, then remove it once the group runs "
    "(docs/operations.md, \"Back up and restore\")");
ABSL_FLAG(std::string, restore_backup_key, "",
          "The backup key file of --restore_backup (32 raw bytes or 64 hex characters, mode 0600 "
          "or 0400)");

namespace medvault::raft {

ReplicaOptions ReplicaOptionsFromFlags(const std::string& service, const std::string& listen,
                                       const TransportSecurity& security, absl::string_view peer) {
  ReplicaOptions o;
  o.channels = [&security, peer = std::string(peer)](const std::string& address) {
    return MakeChannel(address, security, peer);
  };
  o.service = service;
  o.enforce_access = security.is_tls();
  o.id = absl::GetFlag(FLAGS_raft_id);
  o.peers = absl::GetFlag(FLAGS_raft_peers);
  o.bootstrap = absl::GetFlag(FLAGS_raft_bootstrap);
  o.listen = listen;
  o.compact_after_entries = std::max<uint64_t>(1, absl::GetFlag(FLAGS_raft_snapshot_entries));
  o.tick = absl::Milliseconds(std::max<int64_t>(1, absl::GetFlag(FLAGS_raft_tick_ms)));
  o.lease_reads = absl::GetFlag(FLAGS_raft_lease_reads);
  if (std::string backup = absl::GetFlag(FLAGS_restore_backup); !backup.empty()) {
    const v1::RaftGroup group =
        service == "metaserver" ? v1::RAFT_GROUP_METASERVER : v1::RAFT_GROUP_KEYSERVICE;
    o.restore = [backup, key = absl::GetFlag(FLAGS_restore_backup_key),
                 group]() -> absl::StatusOr<RestoredState> {
      if (key.empty())
        return absl::InvalidArgumentError("--restore_backup needs --restore_backup_key");
      absl::StatusOr<v1::BackupContents> contents = ReadBackupFile(backup, key);
      if (!contents.ok()) return contents.status();
      absl::StatusOr<Snapshot> snapshot = BackupSnapshotOf(*contents, group);
      if (!snapshot.ok()) return snapshot.status();
      return RestoredState{*std::move(snapshot), contents->created_unix_micros()};
    };
  }
  return o;
}

}  // namespace medvault::raft
