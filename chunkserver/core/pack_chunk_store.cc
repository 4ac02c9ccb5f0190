#include "chunkserver/core/pack_chunk_store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::chunkserver {
PackChunkStore::PackChunkStore(Filesystem* fs, Clock* clock, std::string data_dir,
                               PackChunkStoreOptions options)
    : fs_(fs),
      clock_(clock),
      data_dir_(StripTrailingSlashes(std::move(data_dir))),
      pack_dir_(data_dir_ + "/pack"),
      quarantine_dir_(data_dir_ + "/quarantine"),
      options_(options) {}

PackChunkStore::~PackChunkStore() {
  absl::MutexLock lock(&mu_);
  while (syncing_) synced_cv_.Wait(&mu_);
  // Acknowledged records are synced already; anything else was never acknowledged.
  for (auto& [no, extent] : extents_) {
    if (extent.file != nullptr) (void)extent.file->Close();
  }
}

std::string PackChunkStore::ExtentPath(uint64_t extent) const {
  return absl::StrCat(pack_dir_, "/", ExtentFileName(extent));
}

absl::Status PackChunkStore::Open() {
  RETURN_IF_ERROR(RefuseOtherLayout(fs_, data_dir_ + "/chunks", "files"));
  RETURN_IF_ERROR(fs_->CreateDirs(pack_dir_));
  RETURN_IF_ERROR(fs_->CreateDirs(quarantine_dir_));
  RETURN_IF_ERROR(fs_->SyncDir(data_dir_));
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(pack_dir_));
  std::vector<uint64_t> numbers;
  for (const std::string& name : names) {
    uint64_t extent = 0;
    if (ParseExtentFileName(name, &extent) && extent > 0) {
      numbers.push_back(extent);
    } else {
      MV_LOG(WARNING) << "ignoring unexpected entry pack/" << name;
    }
  }
  std::sort(numbers.begin(), numbers.end());
  for (size_t i = 0; i < numbers.size(); ++i) {
    // Only the newest extent can end in bytes that were never synced; its payloads are verified.
    RETURN_IF_ERROR(ScanExtent(numbers[i], /*verify_payloads=*/i + 1 == numbers.size()));
  }
  absl::MutexLock lock(&mu_);
  if (!numbers.empty()) next_extent_ = numbers.back() + 1;
  MV_LOG(INFO) << "pack chunk store open: " << index_.size() << " chunks, " << live_put_bytes_
               << " bytes live in " << extents_.size() << " extents of " << disk_bytes_ << " bytes";
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PackChunkStore::NextDecodableHeader(const std::string& path, uint64_t from,
                                                             uint64_t size) {
  constexpr uint64_t kWindow = 1 << 20;
  for (uint64_t at = from; at + kRecordHeaderBytes <= size;) {
    const uint64_t n = std::min<uint64_t>(kWindow + kRecordHeaderBytes, size - at);
    ASSIGN_OR_RETURN(std::string window, fs_->ReadFileRange(path, at, n));
    if (window.size() < kRecordHeaderBytes) break;
    for (size_t i = window.find(kRecordMagic, 0, 4);
         i != std::string::npos && i + kRecordHeaderBytes <= window.size();
         i = window.find(kRecordMagic, i + 1, 4)) {
      if (DecodeRecordHeader(absl::string_view(window).substr(i)).ok()) return at + i;
    }
    at += window.size() - kRecordHeaderBytes + 1;  // windows overlap by a header less one byte
  }
  return size;
}

absl::Status PackChunkStore::ScanExtent(uint64_t extent, bool verify_payloads) {
  const std::string path = ExtentPath(extent);
  ASSIGN_OR_RETURN(FileInfo info, fs_->Stat(path));
  ASSIGN_OR_RETURN(std::string head, fs_->ReadFileRange(path, 0, kExtentHeaderBytes));
  if (!CheckExtentHeader(head, extent).ok()) {
    // Never synced (a crash right after its creation) or rotten: keep it out of the way.
    MV_LOG(WARNING) << "extent " << extent << " has no valid header: moved to quarantine/";
    RETURN_IF_ERROR(fs_->Rename(path, quarantine_dir_ + "/" + ExtentFileName(extent)));
    RETURN_IF_ERROR(fs_->SyncDir(pack_dir_));
    return fs_->SyncDir(quarantine_dir_);
  }
  std::vector<std::pair<RecordHeader, Location>> records;
  std::vector<std::string> skipped;  // ids of put records that failed verification
  uint64_t off = kExtentHeaderBytes;
  while (off + kRecordHeaderBytes <= info.size) {
    ASSIGN_OR_RETURN(std::string bytes, fs_->ReadFileRange(path, off, kRecordHeaderBytes));
    absl::StatusOr<RecordHeader> h = DecodeRecordHeader(bytes);
    if (!h.ok()) {
      // A torn tail (nothing decodes after it) or a rotten header (records follow it).
      ASSIGN_OR_RETURN(uint64_t next, NextDecodableHeader(path, off + 1, info.size));
      if (next >= info.size) break;
      MV_LOG(WARNING) << "extent " << extent << ": skipping " << (next - off)
                      << " unreadable bytes at offset " << off << " (a record header fails its "
                      << "checks)";
      off = next;
      continue;
    }
    if (h->payload_length > info.size - off - kRecordHeaderBytes) break;
    if (h->type == RecordType::kTombstone && h->payload_length != 0) break;
    Location loc{extent, off, h->payload_length, h->payload_crc32c, h->seq, h->write_micros};
    off += loc.record_bytes();
    if (verify_payloads && h->payload_length > 0) {
      ASSIGN_OR_RETURN(std::string payload,
                       fs_->ReadFileRange(path, loc.offset + kRecordHeaderBytes, loc.length));
      if (payload.size() != loc.length || Crc32c(payload) != loc.crc32c) {
        // A payload torn by a crash (never acknowledged) or rotten: not indexed, and the records
        // after it (whose headers check out) still count.
        MV_LOG(WARNING) << "extent " << extent << ": chunk " << ToHex(h->id) << " at offset "
                        << loc.offset << " fails its checksum: skipped";
        skipped.push_back(std::move(h->id));
        continue;
      }
    }
    records.emplace_back(std::move(*h), loc);
  }
  if (off < info.size) {
    MV_LOG(WARNING) << "extent " << extent << ": ignoring " << (info.size - off)
                    << " bytes after its last valid record (an interrupted write)";
  }
  absl::MutexLock lock(&mu_);
  Extent& e = extents_[extent];
  e.size = e.synced = off;
  e.file_bytes = info.size;
  disk_bytes_ += info.size;
  // A skipped record is on disk still: a tombstone for its id must outlive it.
  for (const std::string& id : skipped) ++dead_puts_[id];
  absl::flat_hash_map<std::string, uint64_t> deleted_seq;
  for (const auto& [h, loc] : records) {
    ApplyScanned(h, loc, &deleted_seq);
    next_seq_ = std::max(next_seq_, h.seq + 1);
  }
  return absl::OkStatus();
}

void PackChunkStore::ApplyScanned(const RecordHeader& h, const Location& loc,
                                  absl::flat_hash_map<std::string, uint64_t>* deleted_seq) {
  auto it = index_.find(h.id);
  if (h.type == RecordType::kTombstone) {
    extents_[loc.extent].live_bytes += kRecordHeaderBytes;
    uint64_t& deleted = (*deleted_seq)[h.id];
    deleted = std::max(deleted, h.seq);
    if (it != index_.end() && it->second.seq < h.seq) RemoveLocked(h.id);
    return;
  }
  auto del = deleted_seq->find(h.id);
  if ((it != index_.end() && it->second.seq >= h.seq) ||
      (del != deleted_seq->end() && del->second >= h.seq)) {
    ++dead_puts_[h.id];  // an older version, or a copy of the live one
    return;
  }
  InstallLocked(h.id, loc);
}

bool PackChunkStore::LookupLocked(absl::string_view id, Location* loc) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  *loc = it->second;
  return true;
}

void PackChunkStore::InstallLocked(const std::string& id, const Location& loc) {
  auto it = index_.find(id);
  if (it != index_.end()) {
    extents_[it->second.extent].live_bytes -= it->second.record_bytes();
    live_put_bytes_ -= it->second.record_bytes();
    ++dead_puts_[id];
    it->second = loc;
  } else {
    index_.emplace(id, loc);
  }
  extents_[loc.extent].live_bytes += loc.record_bytes();
  live_put_bytes_ += loc.record_bytes();
}

bool PackChunkStore::RemoveLocked(const std::string& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  extents_[it->second.extent].live_bytes -= it->second.record_bytes();
  live_put_bytes_ -= it->second.record_bytes();
  ++dead_puts_[id];
  index_.erase(it);
  return true;
}

absl::Status PackChunkStore::OpenNewExtentLocked() {
  const uint64_t no = next_extent_++;
  const std::string path = ExtentPath(no);
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_->NewWritableFile(path));
  absl::Status s = file->Append(EncodeExtentHeader(no));
  // The new name must be durable before any record in it is acknowledged.
  if (s.ok()) s = fs_->SyncDir(pack_dir_);
  if (!s.ok()) {
    file.reset();
    (void)fs_->DeleteFile(path);
    return s;
  }
  Extent& e = extents_[no];
  e.size = e.file_bytes = kExtentHeaderBytes;
  e.file = std::move(file);
  disk_bytes_ += kExtentHeaderBytes;
  active_ = no;
  return absl::OkStatus();
}

absl::Status PackChunkStore::AppendLocked(const RecordHeader& h, absl::string_view payload,
                                          bool bypass_quota, Location* loc, Target* target) {
  const uint64_t bytes = kRecordHeaderBytes + payload.size();
  if (!bypass_quota && options_.max_bytes > 0 && disk_bytes_ + bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the chunk store's quota of ", options_.max_bytes, " bytes is full"));
  }
  if (active_ != 0) {
    const Extent& e = extents_[active_];
    // Sealed: the next group sync syncs and closes it.
    if (e.size > kExtentHeaderBytes && e.size + bytes > options_.extent_bytes) active_ = 0;
  }
  if (active_ == 0) RETURN_IF_ERROR(OpenNewExtentLocked());
  Extent& e = extents_[active_];
  absl::Status s = e.file->Append(EncodeRecordHeader(h));
  if (s.ok() && !payload.empty()) s = e.file->Append(payload);
  if (!s.ok()) {
    // The extent's tail is unknown now (Open() stops at it): append to a new one from here on.
    active_ = 0;
    return s;
  }
  *loc = Location{active_, e.size, payload.size(), h.payload_crc32c, h.seq, h.write_micros};
  e.size += bytes;
  e.file_bytes = e.size;
  disk_bytes_ += bytes;
  *target = Target{active_, e.size};
  return absl::OkStatus();
}

absl::Status PackChunkStore::WaitDurableLocked(const Target& t) {
  for (;;) {
    auto it = extents_.find(t.extent);
    if (it == extents_.end()) return absl::InternalError("extent vanished before its sync");
    const Extent& e = it->second;
    if (e.synced >= t.end) return absl::OkStatus();
    if (e.failed) {
      return absl::InternalError(absl::StrCat("syncing extent ", t.extent, " failed"));
    }
    if (syncing_) {
      synced_cv_.Wait(&mu_);
      continue;
    }
    // Lead one group sync for every waiter: each extent with unsynced appends is synced once,
    // outside the lock, while later writers keep appending behind it.
    struct Job {
      uint64_t extent;
      WritableFile* file;
      uint64_t upto;
      absl::Status status;
    };
    std::vector<Job> jobs;
    for (auto& [no, extent] : extents_) {
      if (extent.file != nullptr) jobs.push_back(Job{no, extent.file.get(), extent.size, {}});
    }
    syncing_ = true;
    mu_.Unlock();
    for (Job& job : jobs) job.status = job.file->Sync();
    mu_.Lock();
    syncing_ = false;
    for (Job& job : jobs) {
      Extent& extent = extents_[job.extent];
      if (job.status.ok()) {
        extent.synced = std::max(extent.synced, job.upto);
        // A sealed extent whose every byte is durable takes nothing more.
        if (job.extent != active_ && extent.synced == extent.size) {
          (void)extent.file->Close();
          extent.file.reset();
        }
      } else {
        MV_LOG(ERROR) << "syncing extent " << job.extent << " failed: " << job.status;
        extent.failed = true;
        if (active_ == job.extent) active_ = 0;
        (void)extent.file->Close();
        extent.file.reset();
      }
    }
    synced_cv_.SignalAll();
  }
}

absl::Status PackChunkStore::Write(absl::string_view id, absl::string_view data, uint32_t crc32c) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  RETURN_IF_ERROR(CheckChunkCrc(hex, data, crc32c));
  IdLocks::Scoped id_lock(&id_locks_, id);
  Location existing;
  bool has;
  {
    absl::MutexLock lock(&mu_);
    has = LookupLocked(id, &existing);
  }
  if (has) {
    // Indexed means synced: an identical rewrite is acknowledged at once.
    absl::StatusOr<ChunkData> stored = ReadVerified(id, existing);
    if (stored.ok()) {
      if (stored->data == data) return absl::OkStatus();
      return absl::AlreadyExistsError(
          absl::StrCat("chunk ", hex, " is already stored with different bytes"));
    }
    if (!absl::IsDataLoss(stored.status()) && !absl::IsNotFound(stored.status())) {
      return Annotate(stored.status(), absl::StrCat("writing chunk ", hex));
    }
    MV_LOG(WARNING) << "chunk " << hex << " on disk fails verification ("
                    << stored.status().message() << "); replacing it with the new copy";
  }
  RecordHeader h;
  h.type = RecordType::kPut;
  h.write_micros = clock_->NowMicros();
  h.id = std::string(id);
  h.payload_length = data.size();
  h.payload_crc32c = crc32c;
  absl::MutexLock lock(&mu_);
  h.seq = next_seq_++;
  Location loc;
  Target target;
  absl::Status s = AppendLocked(h, data, /*bypass_quota=*/false, &loc, &target);
  if (s.ok()) s = WaitDurableLocked(target);
  if (!s.ok()) {
    // The record may still reach the disk: count it, so a tombstone for this id outlives it.
    ++dead_puts_[h.id];
    return Annotate(s, absl::StrCat("writing chunk ", hex));
  }
  InstallLocked(h.id, loc);
  return absl::OkStatus();
}

absl::StatusOr<ChunkData> PackChunkStore::ReadAt(absl::string_view id, const Location& loc) {
  // The header and the payload in two reads, so the payload lands in the buffer that is sent
  // (one read of the record and an erase of its header moved every byte of the chunk once more).
  const std::string path = ExtentPath(loc.extent);
  ASSIGN_OR_RETURN(const std::string head,
                   fs_->ReadFileRange(path, loc.offset, kRecordHeaderBytes));
  const std::string hex = ToHex(id);
  if (head.size() != kRecordHeaderBytes) {
    return absl::DataLossError(absl::StrCat("chunk ", hex, ": record truncated"));
  }
  absl::StatusOr<RecordHeader> decoded = DecodeRecordHeader(head);
  if (!decoded.ok()) return Annotate(decoded.status(), absl::StrCat("chunk ", hex));
  const RecordHeader& h = *decoded;
  if (h.type != RecordType::kPut || h.id != id || h.payload_length != loc.length ||
      h.seq != loc.seq || h.payload_crc32c != loc.crc32c) {
    return absl::DataLossError(absl::StrCat("chunk ", hex, ": record names another chunk"));
  }
  const uint32_t crc = h.payload_crc32c;
  ASSIGN_OR_RETURN(std::string bytes,
                   fs_->ReadFileRange(path, loc.offset + kRecordHeaderBytes, loc.length));
  if (bytes.size() != loc.length) {
    return absl::DataLossError(absl::StrCat("chunk ", hex, ": record truncated"));
  }
  if (Crc32c(bytes) != crc) {
    return absl::DataLossError(absl::StrCat("chunk ", hex, ": payload checksum mismatch"));
  }
  return ChunkData{std::move(bytes), crc};
}

absl::StatusOr<ChunkData> PackChunkStore::ReadVerified(absl::string_view id, Location loc) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<ChunkData> chunk = ReadAt(id, loc);
    if (chunk.ok() || !absl::IsNotFound(chunk.status())) return chunk;
    // The extent is gone: compaction moved the record (follow it) or the file was lost.
    Location now;
    {
      absl::MutexLock lock(&mu_);
      if (!LookupLocked(id, &now)) {
        return absl::NotFoundError(absl::StrCat("chunk ", ToHex(id), " not found"));
      }
    }
    if ((now.extent == loc.extent && now.offset == loc.offset) || attempt >= 3) {
      return absl::DataLossError(
          absl::StrCat("chunk ", ToHex(id), ": extent ", loc.extent, " is missing"));
    }
    loc = now;
  }
}

absl::StatusOr<ChunkData> PackChunkStore::Read(absl::string_view id) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  Location loc;
  {
    absl::MutexLock lock(&mu_);
    if (!LookupLocked(id, &loc))
      return absl::NotFoundError(absl::StrCat("chunk ", hex, " not found"));
  }
  absl::StatusOr<ChunkData> chunk = ReadVerified(id, loc);
  if (!chunk.ok()) {
    if (absl::IsNotFound(chunk.status())) return chunk.status();  // deleted meanwhile
    if (absl::IsDataLoss(chunk.status())) {
      absl::StatusOr<bool> quarantined = QuarantineIfCorrupt(id);
      if (!quarantined.ok()) {
        MV_LOG(WARNING) << "quarantining chunk " << hex << " failed: " << quarantined.status();
      }
    }
    return Annotate(chunk.status(), absl::StrCat("reading chunk ", hex));
  }
  return chunk;
}

void PackChunkStore::KeepForInspection(absl::string_view hex, const Location& loc) {
  absl::StatusOr<std::string> raw =
      fs_->ReadFileRange(ExtentPath(loc.extent), loc.offset, loc.record_bytes());
  absl::Status s = raw.status();
  const std::string path = absl::StrCat(quarantine_dir_, "/", hex);
  if (s.ok()) s = fs_->WriteFileSynced(path, "", *raw);
  if (s.ok()) s = fs_->SyncDir(quarantine_dir_);
  if (!s.ok()) MV_LOG(WARNING) << "keeping a copy of chunk " << hex << " failed: " << s;
}

absl::Status PackChunkStore::KillLocked(const std::string& id, Target* target) {
  // Out of the index first: whatever happens to the tombstone, the chunk is no longer served.
  RemoveLocked(id);
  RecordHeader h;
  h.type = RecordType::kTombstone;
  h.seq = next_seq_++;
  h.write_micros = clock_->NowMicros();
  h.id = id;
  h.payload_crc32c = Crc32c("");
  Location loc;
  RETURN_IF_ERROR(AppendLocked(h, "", /*bypass_quota=*/true, &loc, target));
  extents_[loc.extent].live_bytes += kRecordHeaderBytes;
  return absl::OkStatus();
}

absl::StatusOr<bool> PackChunkStore::QuarantineIfCorrupt(absl::string_view id) {
  RETURN_IF_ERROR(CheckChunkId(id));
  const std::string hex = ToHex(id);
  IdLocks::Scoped id_lock(&id_locks_, id);
  Location loc;
  {
    absl::MutexLock lock(&mu_);
    if (!LookupLocked(id, &loc)) return false;
  }
  // Re-read under the id lock: a repair may have just replaced the record with good bytes.
  absl::StatusOr<ChunkData> chunk = ReadVerified(id, loc);
  if (chunk.ok() || absl::IsNotFound(chunk.status())) return false;
  if (!absl::IsDataLoss(chunk.status())) return chunk.status();
  {
    absl::MutexLock lock(&mu_);
    if (!LookupLocked(id, &loc)) return false;
  }
  KeepForInspection(hex, loc);
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    Target target;
    s = KillLocked(std::string(id), &target);
    if (s.ok()) s = WaitDurableLocked(target);
  }
  // Not served any more either way; without a durable tombstone a restart finds it corrupt again.
  if (!s.ok()) MV_LOG(WARNING) << "recording the quarantine of chunk " << hex << " failed: " << s;
  MV_LOG(WARNING) << "chunk " << hex << " fails verification: quarantined";
  NoteQuarantined(id);
  return true;
}

absl::StatusOr<uint32_t> PackChunkStore::Delete(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) RETURN_IF_ERROR(CheckChunkId(id));
  const std::set<std::string> unique(ids.begin(), ids.end());
  uint32_t deleted = 0;
  std::vector<Target> targets;
  for (const std::string& id : unique) {
    IdLocks::Scoped id_lock(&id_locks_, id);
    absl::MutexLock lock(&mu_);
    Location loc;
    if (!LookupLocked(id, &loc)) continue;
    Target target;
    absl::Status s = KillLocked(id, &target);
    if (!s.ok()) return Annotate(s, absl::StrCat("deleting chunk ", ToHex(id)));
    ++deleted;
    targets.push_back(target);
  }
  absl::MutexLock lock(&mu_);
  for (const Target& target : targets) {
    RETURN_IF_ERROR(Annotate(WaitDurableLocked(target), "syncing deletions"));
  }
  return deleted;
}

absl::StatusOr<ChunkList> PackChunkStore::List(absl::string_view start_after, uint32_t limit) {
  if (limit == 0 || limit > kMaxListLimit) limit = kMaxListLimit;
  const int64_t now = clock_->NowMicros();
  ChunkList out;
  absl::MutexLock lock(&mu_);
  auto it = start_after.empty() ? index_.begin() : index_.upper_bound(start_after);
  for (; it != index_.end(); ++it) {
    if (out.entries.size() == limit) {
      out.more = true;
      break;
    }
    ChunkListEntry entry;
    entry.id = it->first;
    entry.size = it->second.record_bytes();
    const int64_t age_micros = now - it->second.write_micros;
    entry.age_seconds = age_micros > 0 ? static_cast<uint64_t>(age_micros / 1'000'000) : 0;
    out.entries.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<ChunkStoreStats> PackChunkStore::Stats() {
  ChunkStoreStats stats;
  uint64_t disk_bytes;
  {
    absl::MutexLock lock(&mu_);
    stats.chunk_count = index_.size();
    stats.bytes_stored = live_put_bytes_;
    disk_bytes = disk_bytes_;
  }
  ASSIGN_OR_RETURN(DiskSpace space, fs_->GetDiskSpace(data_dir_));
  stats.capacity_bytes = space.capacity_bytes;
  stats.free_bytes = space.free_bytes;
  if (options_.max_bytes > 0) {
    const uint64_t quota_free = options_.max_bytes - std::min(options_.max_bytes, disk_bytes);
    stats.capacity_bytes = std::min(stats.capacity_bytes, options_.max_bytes);
    stats.free_bytes = std::min(stats.free_bytes, quota_free);
  }
  return stats;
}

uint64_t PackChunkStore::chunk_count() {
  absl::MutexLock lock(&mu_);
  return index_.size();
}

PackStats PackChunkStore::pack_stats() {
  absl::MutexLock lock(&mu_);
  PackStats stats;
  stats.extents = extents_.size();
  stats.disk_bytes = disk_bytes_;
  for (const auto& [no, extent] : extents_) stats.live_bytes += extent.live_bytes;
  stats.compactions = compactions_;
  return stats;
}

absl::StatusOr<bool> PackChunkStore::Compact() {
  absl::MutexLock compact_lock(&compact_mu_);
  uint64_t pick = 0;
  double worst = 0;
  {
    absl::MutexLock lock(&mu_);
    // The open extent too: on a quiet server it may never fill, and its dead space must come back
    // all the same. Sealed (nothing more is appended to it) once fully synced, it qualifies below.
    if (active_ != 0 && !syncing_) {
      Extent& open = extents_[active_];
      const uint64_t dead = open.file_bytes - std::min(open.file_bytes, open.live_bytes);
      if (open.synced == open.size &&
          static_cast<double>(dead) >= options_.compact_dead_fraction * open.file_bytes) {
        active_ = 0;
        (void)open.file->Close();
        open.file.reset();
      }
    }
    for (const auto& [no, extent] : extents_) {
      // Only sealed extents whose every byte is synced (and closed) are rewritten.
      if (no == active_ || extent.file != nullptr || extent.file_bytes == 0) continue;
      const double dead =
          static_cast<double>(extent.file_bytes - std::min(extent.file_bytes, extent.live_bytes)) /
          static_cast<double>(extent.file_bytes);
      if (dead >= options_.compact_dead_fraction && dead > worst) {
        worst = dead;
        pick = no;
      }
    }
  }
  if (pick == 0) return false;
  RETURN_IF_ERROR(Annotate(CompactExtent(pick), absl::StrCat("compacting extent ", pick)));
  return true;
}

}  // namespace medvault::chunkserver
