// `medvault backup`: the metaserver's and the key service's state from their groups' leaders
// (Admin.TakeBackup), in that order, sealed with the operator's backup key into one file
// (common/backup_file.h); and `backup verify`, which opens one and says what it holds.
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/backup_file.h"
#include "common/key_file.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

constexpr v1::RaftGroup kGroups[] = {v1::RAFT_GROUP_METASERVER, v1::RAFT_GROUP_KEYSERVICE};

std::string GroupName(v1::RaftGroup group) {
  return group == v1::RAFT_GROUP_METASERVER ? "metaserver" : "keyservice";
}

absl::StatusOr<v1::RaftSnapshot> TakeSnapshot(const CommandContext& ctx, v1::RaftGroup group) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::TakeRaftSnapshotRequest request;
  request.set_group(group);
  std::unique_ptr<grpc::ClientReaderInterface<v1::RaftMessagePiece>> reader =
      ctx.admin->TakeBackup(&context, request);
  std::string bytes;
  v1::RaftMessagePiece piece;
  while (reader->Read(&piece)) bytes.append(piece.data());
  if (absl::Status s = FromGrpcStatus(reader->Finish()); !s.ok()) return s;
  v1::RaftSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes))
    return absl::DataLossError(absl::StrCat("the ", GroupName(group), " snapshot does not parse"));
  WipeString(&bytes);
  return snapshot;
}

// Records in a snapshot (every key of every replicated column family).
int64_t Records(const v1::RaftSnapshot& snapshot) {
  v1::RaftKvBatch data;
  return data.ParseFromString(snapshot.data()) ? data.writes_size() : -1;
}

void Describe(const std::string& path, const v1::BackupContents& contents, bool json,
              std::ostream& out) {
  const std::string taken =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(contents.created_unix_micros()),
                       absl::UTCTimeZone());
  if (json) {
    out << "{\"file\":" << JsonQuote(path) << ",\"taken\":" << JsonQuote(taken) << ",\"groups\":[";
  } else {
    out << "backup " << path << ", taken " << taken << "\n";
  }
  for (int i = 0; i < contents.groups_size(); ++i) {
    const v1::BackupGroup& g = contents.groups(i);
    if (json) {
      out << (i ? "," : "") << "{\"group\":" << JsonQuote(GroupName(g.group()))
          << ",\"index\":" << g.snapshot().meta().index()
          << ",\"records\":" << Records(g.snapshot()) << ",\"bytes\":" << g.snapshot().data().size()
          << "}";
    } else {
      out << "  " << GroupName(g.group()) << ": applied index " << g.snapshot().meta().index()
          << ", " << Records(g.snapshot()) << " records, " << g.snapshot().data().size()
          << " bytes\n";
    }
  }
  if (json) out << "]}\n";
}

int Create(const CommandContext& ctx, const BackupArgs& args) {
  absl::StatusOr<SecretBytes> key = LoadKeyFile(args.key_file, "backup key file");
  if (!key.ok()) {
    *ctx.err << FormatError("backup create", key.status()) << "\n";
    return kExitFailure;
  }
  v1::BackupContents contents;
  contents.set_created_unix_micros(absl::ToUnixMicros(absl::Now()));
  // The metaserver first: every object its snapshot lists had its key made before its manifest
  // committed, so the key service's later snapshot holds it (unless it was destroyed meanwhile).
  for (v1::RaftGroup group : kGroups) {
    absl::StatusOr<v1::RaftSnapshot> snapshot = TakeSnapshot(ctx, group);
    if (!snapshot.ok()) {
      *ctx.err << FormatError("backup create (" + GroupName(group) + ")", snapshot.status())
               << "\n";
      return kExitFailure;
    }
    v1::BackupGroup* g = contents.add_groups();
    g->set_group(group);
    *g->mutable_snapshot() = *std::move(snapshot);
  }
  absl::StatusOr<std::string> sealed = SealBackup(contents, *key);
  absl::Status written = sealed.status();
  const std::string tmp = args.path + ".tmp";
  if (written.ok()) written = ctx.fs->WriteFileSynced(tmp, "", *sealed);
  if (written.ok() && ::chmod(tmp.c_str(), 0600) != 0)
    written = absl::InternalError(absl::StrCat("chmod 0600 ", tmp));
  if (written.ok()) written = ctx.fs->Rename(tmp, args.path);
  if (!written.ok()) {
    *ctx.err << FormatError("backup create", written) << "\n";
    return kExitFailure;
  }
  Describe(args.path, contents, /*json=*/false, *ctx.err);
  return kExitOk;
}

int Verify(const CommandContext& ctx, const BackupArgs& args) {
  absl::StatusOr<v1::BackupContents> contents = ReadBackupFile(args.path, args.key_file);
  if (!contents.ok()) {
    *ctx.err << FormatError("backup verify", contents.status()) << "\n";
    return kExitFailure;
  }
  for (v1::RaftGroup group : kGroups) {
    if (absl::StatusOr<v1::RaftSnapshot> s = BackupSnapshotOf(*contents, group); !s.ok()) {
      *ctx.err << FormatError("backup verify", s.status()) << "\n";
      return kExitFailure;
    }
  }
  Describe(args.path, *contents, args.json, *ctx.out);
  return kExitOk;
}

}  // namespace

int RunBackup(const CommandContext& ctx, const BackupArgs& args) {
  return args.action == BackupArgs::Action::kCreate ? Create(ctx, args) : Verify(ctx, args);
}

}  // namespace medvault::cli
