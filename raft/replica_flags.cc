#include "raft/replica_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/backup_file.h"
#include "common/backup_stream.h"
#include "common/env.h"
#include "common/key_file.h"
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
namespace {

// A format-2 backup file, read through at each ForEach.
class StreamedSource : public RestoreSource {
 public:
  StreamedSource(Filesystem* fs, std::string path, SecretBytes key, v1::RaftGroup group,
                 int64_t taken)
      : fs_(fs), path_(std::move(path)), key_(std::move(key)), group_(group), taken_(taken) {}
  int64_t taken_unix_micros() const override { return taken_; }
  absl::Status ForEach(const std::function<absl::Status(const v1::RaftKvWrite&)>& write,
                       SnapshotMeta* meta) override {
    absl::StatusOr<std::unique_ptr<BackupStreamReader>> reader =
        BackupStreamReader::Open(key_, FileBackupSource(fs_, path_));
    if (!reader.ok()) return Context(reader.status());
    v1::RaftBackupPiece piece;
    bool mine = false, found = false;
    while (true) {
      absl::StatusOr<bool> more = (*reader)->Next(&piece);
      if (!more.ok()) return Context(more.status());
      if (!*more) break;
      if (piece.has_meta()) {
        mine = piece.group() == group_;
        found |= mine;
        if (mine) *meta = piece.meta();
      }
      if (!mine) continue;
      for (const v1::RaftKvWrite& w : piece.writes()) {
        if (absl::Status s = write(w); !s.ok()) return s;
      }
    }
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("the backup holds no state of the ", v1::RaftGroup_Name(group_), " group"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Context(const absl::Status& s) const {
    return absl::Status(s.code(), absl::StrCat("backup ", path_, ": ", s.message()));
  }
  Filesystem* const fs_;
  const std::string path_;
  const SecretBytes key_;
  const v1::RaftGroup group_;
  const int64_t taken_;
};

// A format-1 backup, held whole in memory (the only way to read one).
class WholeSource : public RestoreSource {
 public:
  WholeSource(Snapshot snapshot, int64_t taken) : snapshot_(std::move(snapshot)), taken_(taken) {}
  int64_t taken_unix_micros() const override { return taken_; }
  absl::Status ForEach(const std::function<absl::Status(const v1::RaftKvWrite&)>& write,
                       SnapshotMeta* meta) override {
    v1::RaftKvBatch data;
    if (!data.ParseFromString(snapshot_.data()))
      return absl::DataLossError("snapshot does not parse");
    *meta = snapshot_.meta();
    for (const v1::RaftKvWrite& w : data.writes()) {
      if (absl::Status s = write(w); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  const Snapshot snapshot_;
  const int64_t taken_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RestoreSource>> OpenBackupRestoreSource(Filesystem* fs,
                                                                       const std::string& path,
                                                                       const std::string& key_path,
                                                                       v1::RaftGroup group) {
  absl::StatusOr<std::string> head = fs->ReadFileRange(path, 0, 12);
  if (!head.ok()) return head.status();
  if (IsBackupFormat1(*head)) {
    absl::StatusOr<v1::BackupContents> contents = ReadBackupFile(path, key_path);
    if (!contents.ok()) return contents.status();
    absl::StatusOr<Snapshot> snapshot = BackupSnapshotOf(*contents, group);
    if (!snapshot.ok()) return snapshot.status();
    return std::make_unique<WholeSource>(*std::move(snapshot), contents->created_unix_micros());
  }
  absl::StatusOr<SecretBytes> key = LoadKeyFile(key_path, "backup key file");
  if (!key.ok()) return key.status();
  // The header only, for the start time; ForEach reads (and checks) the rest.
  absl::StatusOr<std::unique_ptr<BackupStreamReader>> reader =
      BackupStreamReader::Open(*key, FileBackupSource(fs, path));
  if (!reader.ok()) {
    return absl::Status(reader.status().code(),
                        absl::StrCat("backup ", path, ": ", reader.status().message()));
  }
  return std::make_unique<StreamedSource>(fs, path, *std::move(key), group,
                                          (*reader)->created_unix_micros());
}

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
                 group]() -> absl::StatusOr<std::unique_ptr<RestoreSource>> {
      if (key.empty())
        return absl::InvalidArgumentError("--restore_backup needs --restore_backup_key");
      return OpenBackupRestoreSource(DefaultFilesystem(), backup, key, group);
    };
  }
  return o;
}

}  // namespace medvault::raft
