// PackChunkStore::CompactExtent: reclaiming the space of dead records (pack_chunk_store.h).
//
// Crash safety, step by step: (1) live records and still-needed tombstones are appended, with
// their original sequence numbers, to the open extent; (2) one group sync makes the copies
// durable; (3) the index switches to the copies; (4) the old extent is deleted and the directory
// synced. A crash before (4) completes leaves the old extent beside identical copies (same ids,
// sequence numbers and bytes): Open() keeps one of each and the next compaction removes the rest.
// A tombstone is dropped only when no other extent still holds an older put of its id.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "chunkserver/core/pack_chunk_store.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::chunkserver {

absl::Status PackChunkStore::CompactExtent(uint64_t extent) {
  const std::string path = ExtentPath(extent);
  uint64_t size;
  {
    absl::MutexLock lock(&mu_);
    size = extents_[extent].size;
  }
  struct Copy {
    std::string id;
    uint64_t old_offset;
    Location copy;
  };
  std::vector<Copy> copies;
  std::vector<RecordHeader> tombstones;
  // Put records of this extent that are not live, per id: they leave with it.
  absl::flat_hash_map<std::string, uint32_t> dead_here;
  Target last;
  bool appended = false;
  // Ids of put copies appended and not (yet) switched to. On an error they stay on disk as dead
  // puts: count them, so a tombstone for the id outlives them.
  std::vector<std::string> unsettled;
  auto settle = absl::MakeCleanup([&] {
    if (unsettled.empty()) return;
    absl::MutexLock lock(&mu_);
    for (const std::string& id : unsettled) ++dead_puts_[id];
  });
  bool skipped = false;
  for (uint64_t off = kExtentHeaderBytes; off < size;) {
    ASSIGN_OR_RETURN(std::string bytes, fs_->ReadFileRange(path, off, kRecordHeaderBytes));
    absl::StatusOr<RecordHeader> decoded = DecodeRecordHeader(bytes);
    if (!decoded.ok()) {
      // Rot in a header: resume at the next one; a live record it hid is quarantined below.
      ASSIGN_OR_RETURN(off, NextDecodableHeader(path, off + 1, size));
      skipped = true;
      continue;
    }
    RecordHeader h = std::move(*decoded);
    const uint64_t next = off + kRecordHeaderBytes + h.payload_length;
    if (h.type == RecordType::kTombstone) {
      tombstones.push_back(std::move(h));
      off = next;
      continue;
    }
    Location here;
    bool live;
    {
      absl::MutexLock lock(&mu_);
      live = LookupLocked(h.id, &here) && here.extent == extent && here.offset == off;
    }
    if (live) {
      absl::StatusOr<ChunkData> chunk = ReadAt(h.id, here);
      if (chunk.ok()) {
        absl::MutexLock lock(&mu_);
        Copy c{h.id, off, {}};
        unsettled.push_back(h.id);
        RETURN_IF_ERROR(AppendLocked(h, chunk->data, /*bypass_quota=*/true, &c.copy, &last));
        appended = true;
        copies.push_back(std::move(c));
        off = next;
        continue;
      }
      if (!absl::IsDataLoss(chunk.status())) return chunk.status();
      // Rot found on the way: quarantined (and reported) instead of copied.
      absl::StatusOr<bool> quarantined = QuarantineIfCorrupt(h.id);
      if (!quarantined.ok()) return quarantined.status();
    }
    ++dead_here[h.id];
    off = next;
  }
  if (skipped) {
    // Live records whose header rotted cannot be copied: quarantined (and reported) before the
    // extent goes, as a read would.
    std::vector<std::string> stranded;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, loc] : index_) {
        if (loc.extent == extent) stranded.push_back(id);
      }
    }
    for (const Copy& c : copies) {
      stranded.erase(std::remove(stranded.begin(), stranded.end(), c.id), stranded.end());
    }
    for (const std::string& id : stranded) {
      absl::StatusOr<bool> quarantined = QuarantineIfCorrupt(id);
      if (!quarantined.ok()) return quarantined.status();
      if (!*quarantined) return absl::InternalError("a live record was neither copied nor bad");
    }
  }
  {
    absl::MutexLock lock(&mu_);
    for (const RecordHeader& h : tombstones) {
      auto all = dead_puts_.find(h.id);
      const uint32_t total = all == dead_puts_.end() ? 0 : all->second;
      const uint32_t here = dead_here[h.id];
      const uint32_t elsewhere = total > here ? total - here : 0;
      if (elsewhere == 0) continue;  // nothing left for it to delete
      Location loc;
      RETURN_IF_ERROR(AppendLocked(h, "", /*bypass_quota=*/true, &loc, &last));
      extents_[loc.extent].live_bytes += kRecordHeaderBytes;
      appended = true;
    }
    if (appended) RETURN_IF_ERROR(WaitDurableLocked(last));
    for (const Copy& c : copies) {
      auto it = index_.find(c.id);
      if (it != index_.end() && it->second.extent == extent && it->second.offset == c.old_offset) {
        extents_[extent].live_bytes -= c.copy.record_bytes();
        extents_[c.copy.extent].live_bytes += c.copy.record_bytes();
        it->second = c.copy;
      } else {
        // Replaced or deleted while being copied: the original was counted dead then, and the
        // copy is one more dead put.
        ++dead_here[c.id];
        ++dead_puts_[c.id];
      }
    }
    for (const auto& [id, n] : dead_here) {
      auto all = dead_puts_.find(id);
      if (all == dead_puts_.end()) continue;
      all->second -= std::min(all->second, n);
      if (all->second == 0) dead_puts_.erase(all);
    }
    unsettled.clear();  // every copy is live or counted dead now
    disk_bytes_ -= std::min(disk_bytes_, extents_[extent].file_bytes);
    extents_.erase(extent);
    ++compactions_;
  }
  // Readers still holding the old location find the file gone and look the chunk up again.
  absl::Status s = fs_->DeleteFile(path);
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  RETURN_IF_ERROR(fs_->SyncDir(pack_dir_));
  MV_LOG(INFO) << "compacted extent " << extent << ": " << copies.size() << " chunks moved";
  return absl::OkStatus();
}

}  // namespace medvault::chunkserver
