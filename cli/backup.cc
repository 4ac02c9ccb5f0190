// `medvault backup`: the metaserver's and the key service's state from their groups' leaders
// (Admin.StreamBackup), in that order, sealed a segment at a time with the operator's backup key
// into FILE.partial (common/backup_stream.h), synced, read back whole and only then renamed to
// FILE: a backup cut off anywhere never carries the name of a complete one. Memory stays at a piece
// and a segment whatever the size of the state. `backup verify` opens one and says what it holds
// (format 1 files, held whole, are still read).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "common/backup_file.h"
#include "common/backup_stream.h"
#include "common/key_file.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

constexpr v1::RaftGroup kGroups[] = {v1::RAFT_GROUP_METASERVER, v1::RAFT_GROUP_KEYSERVICE};

std::string GroupName(v1::RaftGroup group) {
  return group == v1::RAFT_GROUP_METASERVER ? "metaserver" : "keyservice";
}

// What a backup holds of one group.
struct GroupSummary {
  v1::RaftGroup group = v1::RAFT_GROUP_UNSPECIFIED;
  uint64_t index = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;  // keys and values
};

struct Summary {
  int64_t created_unix_micros = 0;
  std::vector<GroupSummary> groups;
};

void Count(const v1::RaftBackupPiece& piece, Summary* summary) {
  if (piece.has_meta()) {
    summary->groups.push_back(GroupSummary{piece.group(), piece.meta().index(), 0, 0});
  }
  if (summary->groups.empty()) return;
  GroupSummary& g = summary->groups.back();
  for (const v1::RaftKvWrite& w : piece.writes()) {
    ++g.records;
    g.bytes += w.key().size() + w.value().size();
  }
}

// Streams `group`'s state from its leader into `writer`, piece by piece.
absl::Status StreamGroup(const CommandContext& ctx, v1::RaftGroup group,
                         BackupStreamWriter* writer) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::TakeRaftSnapshotRequest request;
  request.set_group(group);
  std::unique_ptr<grpc::ClientReaderInterface<v1::RaftBackupPiece>> reader =
      ctx.admin->StreamBackup(&context, request);
  v1::RaftBackupPiece piece;
  uint64_t pieces = 0, records = 0;
  bool ended = false;
  absl::Status s;
  while (s.ok() && reader->Read(&piece)) {
    if (ended || (pieces == 0) != piece.has_meta()) {
      s = absl::DataLossError("the backup stream's pieces are out of order");
      break;
    }
    if (pieces++ == 0) piece.set_group(group);
    records += static_cast<uint64_t>(piece.writes_size());
    if (piece.last()) {
      ended = true;
      if (piece.records() != records) s = absl::DataLossError("the backup stream lost records");
    }
    if (s.ok()) s = writer->Add(piece);
  }
  if (!s.ok()) context.TryCancel();
  absl::Status finished = FromGrpcStatus(reader->Finish());
  if (!s.ok()) return s;
  if (!finished.ok()) return finished;
  if (!ended) return absl::DataLossError("the backup stream ended before its last piece");
  return absl::OkStatus();
}

// Reads a format-2 backup through, checking every segment and group.
absl::StatusOr<Summary> ReadStreamed(Filesystem* fs, const std::string& path,
                                     const SecretBytes& key) {
  absl::StatusOr<std::unique_ptr<BackupStreamReader>> reader =
      BackupStreamReader::Open(key, FileBackupSource(fs, path));
  if (!reader.ok()) return reader.status();
  Summary summary;
  summary.created_unix_micros = (*reader)->created_unix_micros();
  v1::RaftBackupPiece piece;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&piece);
    if (!more.ok()) return more.status();
    if (!*more) break;
    Count(piece, &summary);
  }
  return summary;
}

// Either format; both groups must be there.
absl::StatusOr<Summary> ReadAny(Filesystem* fs, const std::string& path,
                                const std::string& key_path) {
  absl::StatusOr<std::string> head = fs->ReadFileRange(path, 0, 12);
  if (!head.ok()) return head.status();
  Summary summary;
  if (IsBackupFormat1(*head)) {
    absl::StatusOr<v1::BackupContents> contents = ReadBackupFile(path, key_path);
    if (!contents.ok()) return contents.status();
    summary.created_unix_micros = contents->created_unix_micros();
    for (const v1::BackupGroup& g : contents->groups()) {
      v1::RaftKvBatch data;
      const bool parsed = data.ParseFromString(g.snapshot().data());
      summary.groups.push_back(GroupSummary{g.group(), g.snapshot().meta().index(),
                                            parsed ? static_cast<uint64_t>(data.writes_size()) : 0,
                                            g.snapshot().data().size()});
    }
  } else {
    absl::StatusOr<SecretBytes> key = LoadKeyFile(key_path, "backup key file");
    if (!key.ok()) return key.status();
    absl::StatusOr<Summary> read = ReadStreamed(fs, path, *key);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("backup ", path, ": ", read.status().message()));
    }
    summary = *std::move(read);
  }
  for (v1::RaftGroup group : kGroups) {
    bool found = false;
    for (const GroupSummary& g : summary.groups) found |= g.group == group;
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("the backup holds no state of the ", v1::RaftGroup_Name(group), " group"));
    }
  }
  return summary;
}

void Describe(const std::string& path, const Summary& summary, bool json, std::ostream& out) {
  const std::string taken = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(summary.created_unix_micros), absl::UTCTimeZone());
  if (json) {
    out << "{\"file\":" << JsonQuote(path) << ",\"taken\":" << JsonQuote(taken) << ",\"groups\":[";
  } else {
    out << "backup " << path << ", taken " << taken << "\n";
  }
  for (size_t i = 0; i < summary.groups.size(); ++i) {
    const GroupSummary& g = summary.groups[i];
    if (json) {
      out << (i ? "," : "") << "{\"group\":" << JsonQuote(GroupName(g.group))
          << ",\"index\":" << g.index << ",\"records\":" << g.records << ",\"bytes\":" << g.bytes
          << "}";
    } else {
      out << "  " << GroupName(g.group) << ": applied index " << g.index << ", " << g.records
          << " records, " << g.bytes << " bytes\n";
    }
  }
  if (json) out << "]}\n";
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes the backup to `partial`; OK once it is synced and closed.
absl::Status WritePartial(const CommandContext& ctx, const SecretBytes& key,
                          const std::string& partial) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file = ctx.fs->NewWritableFile(partial);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::unique_ptr<BackupStreamWriter>> writer = BackupStreamWriter::Start(
      key, absl::ToUnixMicros(absl::Now()),
      [f = file->get()](absl::string_view bytes) { return f->Append(bytes); });
  absl::Status s = writer.status();
  // The metaserver first: every object its state lists had its key made before its manifest
  // committed, so the key service's later state holds it (unless it was destroyed meanwhile).
  for (v1::RaftGroup group : kGroups) {
    if (!s.ok()) break;
    s = StreamGroup(ctx, group, writer->get());
    if (!s.ok()) s = absl::Status(s.code(), absl::StrCat(GroupName(group), ": ", s.message()));
  }
  if (s.ok()) s = (*writer)->Finish();
  if (s.ok()) s = (*file)->Sync();
  absl::Status closed = (*file)->Close();
  return s.ok() ? closed : s;
}

int Create(const CommandContext& ctx, const BackupArgs& args) {
  absl::StatusOr<SecretBytes> key = LoadKeyFile(args.key_file, "backup key file");
  if (!key.ok()) {
    *ctx.err << FormatError("backup create", key.status()) << "\n";
    return kExitFailure;
  }
  const std::string partial = args.path + ".partial";
  absl::Status s = WritePartial(ctx, *key, partial);
  // Read back before it takes the name: what the disk holds authenticates to the end.
  absl::StatusOr<Summary> summary =
      s.ok() ? ReadStreamed(ctx.fs, partial, *key) : absl::StatusOr<Summary>(s);
  if (summary.ok()) s = ctx.fs->Rename(partial, args.path);
  if (summary.ok() && s.ok()) s = ctx.fs->SyncDir(DirOf(args.path));
  if (s.ok()) s = summary.status();
  if (!s.ok()) {
    ctx.fs->DeleteFile(partial).IgnoreError();
    *ctx.err << FormatError("backup create", s) << "\n";
    return kExitFailure;
  }
  Describe(args.path, *summary, /*json=*/false, *ctx.err);
  return kExitOk;
}

int Verify(const CommandContext& ctx, const BackupArgs& args) {
  absl::StatusOr<Summary> summary = ReadAny(ctx.fs, args.path, args.key_file);
  if (!summary.ok()) {
    *ctx.err << FormatError("backup verify", summary.status()) << "\n";
    return kExitFailure;
  }
  Describe(args.path, *summary, args.json, *ctx.out);
  return kExitOk;
}

}  // namespace

int RunBackup(const CommandContext& ctx, const BackupArgs& args) {
  return args.action == BackupArgs::Action::kCreate ? Create(ctx, args) : Verify(ctx, args);
}

}  // namespace medvault::cli
