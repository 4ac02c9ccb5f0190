#include "chunkserver/core/chunk_store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::chunkserver {
std::vector<std::string> ChunkStore::TakeQuarantined() {
  absl::MutexLock lock(&quarantine_mu_);
  std::vector<std::string> out;
  out.swap(quarantined_);
  return out;
}

void ChunkStore::ReturnQuarantined(const std::vector<std::string>& ids) {
  absl::MutexLock lock(&quarantine_mu_);
  for (const std::string& id : ids) {
    if (quarantined_.size() < kMaxPendingQuarantined) quarantined_.push_back(id);
  }
}

void ChunkStore::NoteQuarantined(absl::string_view id) { ReturnQuarantined({std::string(id)}); }

absl::Status RefuseOtherLayout(Filesystem* fs, const std::string& dir, absl::string_view layout) {
  absl::StatusOr<std::vector<std::string>> names = fs->ListDir(dir);
  if (absl::IsNotFound(names.status())) return absl::OkStatus();
  RETURN_IF_ERROR(names.status());
  if (names->empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(dir, " holds chunks of the '", layout,
                                                    "' layout; start with --chunk_store=", layout,
                                                    " (layouts are not converted)"));
}

absl::StatusOr<std::string> ChooseLayout(Filesystem* fs, const std::string& data_dir,
                                         const std::string& requested) {
  if (requested == "files" || requested == "pack") return requested;
  if (!requested.empty()) {
    return absl::InvalidArgumentError("the chunk layout must be 'files' or 'pack'");
  }
  for (const char* layout : {"files", "pack"}) {
    const std::string dir = data_dir + (layout == std::string("files") ? "/chunks" : "/pack");
    absl::StatusOr<std::vector<std::string>> names = fs->ListDir(dir);
    if (absl::IsNotFound(names.status())) continue;
    RETURN_IF_ERROR(names.status());
    if (!names->empty()) return std::string(layout);
  }
  return std::string(kDefaultLayout);
}

FileChunkStore::FileChunkStore(Filesystem* fs, Clock* clock, std::string data_dir,
                               ChunkStoreOptions options)
    : fs_(fs),
      clock_(clock),
      data_dir_(StripTrailingSlashes(std::move(data_dir))),
      chunks_dir_(data_dir_ + "/chunks"),
      tmp_dir_(data_dir_ + "/tmp"),
      quarantine_dir_(data_dir_ + "/quarantine"),
      options_(options) {}

std::string FileChunkStore::SubdirName(absl::string_view hex_id) const {
  return std::string(hex_id.substr(0, kSubdirChars));
}

std::string FileChunkStore::ChunkPath(absl::string_view hex_id) const {
  return absl::StrCat(chunks_dir_, "/", hex_id.substr(0, kSubdirChars), "/", hex_id);
}

absl::Status FileChunkStore::Open() {
  RETURN_IF_ERROR(RefuseOtherLayout(fs_, data_dir_ + "/pack", "pack"));
  RETURN_IF_ERROR(fs_->CreateDirs(chunks_dir_));
  RETURN_IF_ERROR(fs_->CreateDirs(tmp_dir_));
  RETURN_IF_ERROR(fs_->CreateDirs(quarantine_dir_));
  ASSIGN_OR_RETURN(std::vector<std::string> leftovers, fs_->ListDir(tmp_dir_));
  for (const std::string& name : leftovers) {
    absl::Status s = fs_->DeleteFile(tmp_dir_ + "/" + name);
    if (!s.ok() && !absl::IsNotFound(s)) return Annotate(s, "removing an interrupted write");
  }
  if (!leftovers.empty()) {
    MV_LOG(INFO) << "removed " << leftovers.size() << " temporary files of interrupted writes";
  }
  // The directories themselves must survive a crash before any chunk is acknowledged.
  RETURN_IF_ERROR(fs_->SyncDir(data_dir_));
  RETURN_IF_ERROR(ScanExisting());
  RETURN_IF_ERROR(fs_->SyncDir(chunks_dir_));
  absl::MutexLock lock(&mu_);
  MV_LOG(INFO) << "chunk store open: " << chunk_count_ << " chunks, " << bytes_stored_ << " bytes";
  return absl::OkStatus();
}

absl::Status FileChunkStore::ScanExisting() {
  ASSIGN_OR_RETURN(std::vector<std::string> subdirs, fs_->ListDir(chunks_dir_));
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t unknown = 0;
  std::vector<std::string> durable;
  for (const std::string& sub : subdirs) {
    if (!IsLowerHex(sub, kSubdirChars)) {
      ++unknown;
      continue;
    }
    const std::string dir = chunks_dir_ + "/" + sub;
    ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir));
    for (const std::string& name : names) {
      if (!IsChunkFileName(name, sub)) {
        ++unknown;
        continue;
      }
      ASSIGN_OR_RETURN(FileInfo info, fs_->Stat(dir + "/" + name));
      ++count;
      bytes += info.size;
    }
    // Entries created by an earlier process may not have been synced into chunks/ yet; the
    // SyncDir(chunks/) at the end of Open() makes them durable.
    durable.push_back(sub);
  }
  if (unknown > 0) MV_LOG(WARNING) << "ignoring " << unknown << " unexpected entries under chunks/";
  absl::MutexLock lock(&mu_);
  chunk_count_ = count;
  bytes_stored_ = bytes;
  durable_subdirs_.insert(durable.begin(), durable.end());
  return absl::OkStatus();
}

absl::Status FileChunkStore::EnsureSubdir(const std::string& subdir_name) {
  {
    absl::MutexLock lock(&mu_);
    if (durable_subdirs_.contains(subdir_name)) return absl::OkStatus();
  }
  // Two writers may both get here for the same new subdirectory; both create (idempotent) and
  // both sync, and only then is the name marked durable.
  RETURN_IF_ERROR(fs_->CreateDirs(chunks_dir_ + "/" + subdir_name));
  RETURN_IF_ERROR(fs_->SyncDir(chunks_dir_));
  absl::MutexLock lock(&mu_);
  durable_subdirs_.insert(subdir_name);
  return absl::OkStatus();
}

void FileChunkStore::AccountReplace(bool had_file, uint64_t old_size, bool has_file,
                                    uint64_t new_size) {
  absl::MutexLock lock(&mu_);
  if (had_file) {
    --chunk_count_;
    bytes_stored_ -= std::min(bytes_stored_, old_size);
  }
  if (has_file) {
    ++chunk_count_;
    bytes_stored_ += new_size;
  }
}

absl::Status FileChunkStore::WriteNewFile(absl::string_view id, absl::string_view hex_id,
                                          absl::string_view data, uint32_t crc32c) {
  const std::string subdir_name = SubdirName(hex_id);
  const std::string subdir = chunks_dir_ + "/" + subdir_name;
  const std::string path = ChunkPath(hex_id);
  RETURN_IF_ERROR(EnsureSubdir(subdir_name));

  uint64_t serial;
  {
    absl::MutexLock lock(&mu_);
    serial = next_tmp_++;
  }
  const std::string tmp = absl::StrCat(tmp_dir_, "/", hex_id, ".", serial);
  absl::Status s = fs_->WriteFileSynced(tmp, EncodeChunkHeader(id, data.size(), crc32c), data);
  if (s.ok()) s = fs_->Rename(tmp, path);
  if (!s.ok()) {
    (void)fs_->DeleteFile(tmp);
    return s;
  }
  s = fs_->SyncDir(subdir);
  if (!s.ok()) {
    // The rename may or may not survive a crash; take it back so a retry writes and syncs again
    // instead of finding an "identical" chunk whose directory entry is not durable.
    (void)fs_->DeleteFile(path);
    (void)fs_->SyncDir(subdir);
    return s;
  }
  return absl::OkStatus();
}

absl::Status FileChunkStore::Write(absl::string_view id, absl::string_view data, uint32_t crc32c) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  RETURN_IF_ERROR(CheckChunkCrc(hex, data, crc32c));
  IdLocks::Scoped lock(&id_locks_, id);
  const std::string path = ChunkPath(hex);
  bool had_file = false;
  uint64_t old_size = 0;
  absl::StatusOr<std::string> existing = fs_->ReadFile(path);
  if (existing.ok()) {
    had_file = true;
    old_size = existing->size();
    absl::StatusOr<ChunkData> stored = DecodeChunkFile(id, std::move(*existing));
    if (stored.ok()) {
      if (stored->data != data) {
        return absl::AlreadyExistsError(
            absl::StrCat("chunk ", hex, " is already stored with different bytes"));
      }
      // Identical bytes. The earlier write may have died between its rename and its directory
      // fsync, so make the entry durable before acknowledging again.
      return Annotate(fs_->SyncDir(chunks_dir_ + "/" + SubdirName(hex)),
                      absl::StrCat("writing chunk ", hex));
    }
    MV_LOG(WARNING) << "chunk " << hex << " on disk fails verification ("
                    << stored.status().message() << "); replacing it with the new copy";
  } else if (!absl::IsNotFound(existing.status())) {
    return Annotate(existing.status(), absl::StrCat("writing chunk ", hex));
  }

  if (options_.max_bytes > 0) {
    absl::MutexLock quota(&mu_);
    const uint64_t after =
        bytes_stored_ - std::min(bytes_stored_, old_size) + kChunkHeaderBytes + data.size();
    if (after > options_.max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("writing chunk ", hex,
                                                       ": the chunk store's quota of ",
                                                       options_.max_bytes, " bytes is full"));
    }
  }
  absl::Status s = WriteNewFile(id, hex, data, crc32c);
  if (!s.ok()) {
    // Normally nothing changed; if a replaced file was taken back, count what is there now.
    absl::StatusOr<FileInfo> now = fs_->Stat(path);
    AccountReplace(had_file, old_size, now.ok(), now.ok() ? now->size : 0);
    return Annotate(s, absl::StrCat("writing chunk ", hex));
  }
  AccountReplace(had_file, old_size, true, kChunkHeaderBytes + data.size());
  return absl::OkStatus();
}

absl::StatusOr<ChunkData> FileChunkStore::Read(absl::string_view id) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  absl::StatusOr<std::string> file = fs_->ReadFile(ChunkPath(hex));
  if (absl::IsNotFound(file.status())) {
    return absl::NotFoundError(absl::StrCat("chunk ", hex, " not found"));
  }
  if (!file.ok()) return Annotate(file.status(), absl::StrCat("reading chunk ", hex));
  absl::StatusOr<ChunkData> chunk = DecodeChunkFile(id, std::move(*file));
  if (!chunk.ok()) {
    if (absl::IsDataLoss(chunk.status())) {
      absl::StatusOr<bool> moved = QuarantineIfCorrupt(id);
      if (!moved.ok())
        MV_LOG(WARNING) << "quarantining chunk " << hex << " failed: " << moved.status();
    }
    return Annotate(chunk.status(), absl::StrCat("reading chunk ", hex));
  }
  return chunk;
}

absl::StatusOr<uint32_t> FileChunkStore::Delete(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) RETURN_IF_ERROR(CheckChunkId(id));
  const std::set<std::string> unique(ids.begin(), ids.end());
  std::set<std::string> touched_dirs;
  uint32_t deleted = 0;
  absl::Status error;
  for (const std::string& id : unique) {
    const std::string hex = ToHex(id);
    const std::string path = ChunkPath(hex);
    IdLocks::Scoped lock(&id_locks_, id);
    absl::StatusOr<FileInfo> info = fs_->Stat(path);
    if (absl::IsNotFound(info.status())) continue;
    if (!info.ok()) {
      error = Annotate(info.status(), absl::StrCat("deleting chunk ", hex));
      break;
    }
    absl::Status s = fs_->DeleteFile(path);
    if (absl::IsNotFound(s)) continue;
    if (!s.ok()) {
      error = Annotate(s, absl::StrCat("deleting chunk ", hex));
      break;
    }
    ++deleted;
    AccountReplace(true, info->size, false, 0);
    touched_dirs.insert(chunks_dir_ + "/" + SubdirName(hex));
  }
  for (const std::string& dir : touched_dirs) {
    absl::Status s = fs_->SyncDir(dir);
    if (!s.ok() && error.ok()) error = Annotate(s, "syncing deletions");
  }
  if (!error.ok()) return error;
  return deleted;
}

absl::StatusOr<ChunkList> FileChunkStore::List(absl::string_view start_after, uint32_t limit) {
  if (limit == 0 || limit > kMaxListLimit) limit = kMaxListLimit;
  const std::string start_hex = ToHex(start_after);
  const std::string start_sub = start_hex.substr(0, kSubdirChars);
  ASSIGN_OR_RETURN(std::vector<std::string> subdirs, fs_->ListDir(chunks_dir_));
  std::sort(subdirs.begin(), subdirs.end());
  const int64_t now = clock_->NowMicros();
  ChunkList out;
  for (const std::string& sub : subdirs) {
    if (!IsLowerHex(sub, kSubdirChars) || sub < start_sub) continue;
    const std::string dir = chunks_dir_ + "/" + sub;
    absl::StatusOr<std::vector<std::string>> names = fs_->ListDir(dir);
    if (absl::IsNotFound(names.status())) continue;
    if (!names.ok()) return names.status();
    std::sort(names->begin(), names->end());
    for (const std::string& name : *names) {
      if (!IsChunkFileName(name, sub) || name <= start_hex) continue;
      absl::StatusOr<FileInfo> info = fs_->Stat(dir + "/" + name);
      if (absl::IsNotFound(info.status())) continue;  // deleted meanwhile
      if (!info.ok()) return info.status();
      if (out.entries.size() == limit) {
        out.more = true;
        return out;
      }
      ChunkListEntry entry;
      ASSIGN_OR_RETURN(entry.id, FromHex(name));
      entry.size = info->size;
      const int64_t age_micros = now - info->mtime_micros;
      entry.age_seconds = age_micros > 0 ? static_cast<uint64_t>(age_micros / 1'000'000) : 0;
      out.entries.push_back(std::move(entry));
    }
  }
  return out;
}

absl::StatusOr<ChunkStoreStats> FileChunkStore::Stats() {
  ChunkStoreStats stats;
  {
    absl::MutexLock lock(&mu_);
    stats.chunk_count = chunk_count_;
    stats.bytes_stored = bytes_stored_;
  }
  ASSIGN_OR_RETURN(DiskSpace space, fs_->GetDiskSpace(data_dir_));
  stats.capacity_bytes = space.capacity_bytes;
  stats.free_bytes = space.free_bytes;
  if (options_.max_bytes > 0) {
    const uint64_t quota_free =
        options_.max_bytes - std::min(options_.max_bytes, stats.bytes_stored);
    stats.capacity_bytes = std::min(stats.capacity_bytes, options_.max_bytes);
    stats.free_bytes = std::min(stats.free_bytes, quota_free);
  }
  return stats;
}

absl::StatusOr<bool> FileChunkStore::QuarantineIfCorrupt(absl::string_view id) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  const std::string path = ChunkPath(hex);
  IdLocks::Scoped lock(&id_locks_, id);
  // Re-read under the id lock: a repair may have just replaced the file with good bytes.
  absl::StatusOr<std::string> file = fs_->ReadFile(path);
  if (absl::IsNotFound(file.status())) return false;
  RETURN_IF_ERROR(file.status());
  const uint64_t size = file->size();
  if (DecodeChunkFile(id, std::move(*file)).ok()) return false;
  RETURN_IF_ERROR(fs_->Rename(path, quarantine_dir_ + "/" + hex));
  RETURN_IF_ERROR(fs_->SyncDir(chunks_dir_ + "/" + SubdirName(hex)));
  RETURN_IF_ERROR(fs_->SyncDir(quarantine_dir_));
  AccountReplace(true, size, false, 0);
  MV_LOG(WARNING) << "chunk " << hex << " fails verification: quarantined";
  NoteQuarantined(id);
  return true;
}

uint64_t FileChunkStore::chunk_count() {
  absl::MutexLock lock(&mu_);
  return chunk_count_;
}

}  // namespace medvault::chunkserver
