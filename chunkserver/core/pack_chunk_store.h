// The pack chunk store: chunks appended to large extent files (format in pack_format.h) instead
// of one file per chunk, so ingest pays no inode allocation and one fdatasync covers many
// concurrent writes (group commit: a write is acknowledged only after a sync that covers its
// record). Haystack and 3FS's chunk engine are the models.
//
// The index (id -> extent, offset, length, CRC32C, sequence number) is held in memory and rebuilt
// by Open() from the records themselves: every record is self-describing (id, length, CRCs,
// sequence number), so data and index can never disagree and one fdatasync per group makes both
// durable (an index in RocksDB would need its own synced write per group, or a tail scan anyway).
// Open() reads each record header (one pread per chunk) and, in the newest extent (the only one
// that can hold unsynced bytes at a crash), every payload too. A record header that fails its
// checks ends the extent when no valid header follows it (a torn tail: nothing after it was
// acknowledged); otherwise it is rot, and the scan resumes at the next valid header.
//
// Deletes append a tombstone (a record with a higher sequence number) and are durable when they
// return. Compact() rewrites an extent whose dead fraction passes the threshold: it copies the
// live records (same sequence numbers) and the tombstones still needed to the open extent, syncs,
// switches the index, and only then deletes the old extent: a crash at any step leaves either the
// old records or identical copies, and the sequence numbers make them interchangeable.
//
// Layout under data_dir:
//   pack/<16 hex digits>.mvx     extent files; one is open for appends at a time
//   quarantine/<32 hex chars>    records that failed verification, kept for inspection
//   quarantine/<extent file>     an extent whose header is unreadable, set aside by Open()
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/core/chunk_store.h"
#include "chunkserver/core/id_locks.h"
#include "chunkserver/core/pack_format.h"
#include "common/env.h"

namespace medvault::chunkserver {

struct PackChunkStoreOptions {
  // At most this many bytes of extent files (dead records included: they occupy the disk until
  // compacted); 0: no limit but the filesystem's. Tombstones and compaction copies may exceed it
  // (they are how space comes back).
  uint64_t max_bytes = 0;
  // An extent stops taking appends once it reaches this size.
  uint64_t extent_bytes = 256ull << 20;
  // Compact() rewrites a sealed extent once this fraction of it is dead (deleted, replaced or
  // failed records).
  double compact_dead_fraction = 0.5;
};

// Counters for tests, metrics and the operations guide.
struct PackStats {
  uint64_t extents = 0;
  uint64_t disk_bytes = 0;  // sum of the extent files' sizes
  uint64_t live_bytes = 0;  // live records (headers included) and tombstones
  uint64_t compactions = 0;
};

// Thread-safe. Appends are serialised by one mutex; syncs, reads and verification run outside it.
// The store calls WritableFile::Sync concurrently with Append on the open extent (the POSIX file
// is a bare descriptor, for which that is safe).
class PackChunkStore : public ChunkStore {
 public:
  // Does not take ownership; `fs` and `clock` must outlive the store. Call Open() before use.
  PackChunkStore(Filesystem* fs, Clock* clock, std::string data_dir,
                 PackChunkStoreOptions options = {});
  ~PackChunkStore() override;
  PackChunkStore(const PackChunkStore&) = delete;
  PackChunkStore& operator=(const PackChunkStore&) = delete;

  absl::Status Open() override;
  absl::Status Write(absl::string_view id, absl::string_view data, uint32_t crc32c) override;
  absl::StatusOr<ChunkData> Read(absl::string_view id) override;
  absl::StatusOr<bool> QuarantineIfCorrupt(absl::string_view id) override;
  absl::StatusOr<uint32_t> Delete(const std::vector<std::string>& ids) override;
  // size is the record's bytes (header included); age_seconds is the clock's now minus the time
  // the chunk was first written (kept across compactions).
  absl::StatusOr<ChunkList> List(absl::string_view start_after, uint32_t limit) override;
  absl::StatusOr<ChunkStoreStats> Stats() override;
  uint64_t chunk_count() override;
  const std::string& data_dir() const override { return data_dir_; }

  // Rewrites the sealed extent with the largest dead fraction at or above the threshold; false
  // when none qualifies. One compaction at a time (callers are serialised).
  absl::StatusOr<bool> Compact();
  PackStats pack_stats();

 private:
  struct Location {
    uint64_t extent = 0;
    uint64_t offset = 0;  // of the record header
    uint64_t length = 0;  // of the payload
    uint32_t crc32c = 0;
    uint64_t seq = 0;
    int64_t write_micros = 0;
    uint64_t record_bytes() const { return kRecordHeaderBytes + length; }
  };
  struct Extent {
    uint64_t size = 0;                   // bytes appended (the end of the last record)
    uint64_t synced = 0;                 // bytes known durable
    uint64_t file_bytes = 0;             // size on disk (a torn tail beyond `size` included)
    uint64_t live_bytes = 0;             // live puts and tombstones
    std::unique_ptr<WritableFile> file;  // while appends or a sync may still come
    bool failed = false;                 // a sync failed: records past `synced` are lost
  };
  // Where an append ends; durable once extents_[extent].synced >= end.
  struct Target {
    uint64_t extent = 0;
    uint64_t end = 0;
  };

  std::string ExtentPath(uint64_t extent) const;
  // The offset of the first record header at or after `from` in the extent file `path` (of `size`
  // bytes) that decodes, or `size` when none does. Open() and compaction resume there after a
  // header that fails its checks, so rot in one header costs that record, not every record behind
  // it. Payloads are ciphertext: a false match needs the magic and a header CRC32C to agree.
  absl::StatusOr<uint64_t> NextDecodableHeader(const std::string& path, uint64_t from,
                                               uint64_t size);
  absl::Status ScanExtent(uint64_t extent, bool verify_payloads);
  // Applies one record found by Open() to the index.
  void ApplyScanned(const RecordHeader& h, const Location& loc,
                    absl::flat_hash_map<std::string, uint64_t>* deleted_seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Appends a record to the open extent (opening one if needed); sets *loc and *target.
  absl::Status AppendLocked(const RecordHeader& h, absl::string_view payload, bool bypass_quota,
                            Location* loc, Target* target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenNewExtentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns once `t` is durable, leading a group sync when none is under way.
  absl::Status WaitDurableLocked(const Target& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `loc` the live record of `id`; the record it replaces becomes dead.
  void InstallLocked(const std::string& id, const Location& loc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes `id` from the index (its record becomes dead); false when absent.
  bool RemoveLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends a tombstone for `id` and removes it from the index.
  absl::Status KillLocked(const std::string& id, Target* target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool LookupLocked(absl::string_view id, Location* loc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reads and verifies the record at `loc` (the live record of `id` when looked up); follows a
  // record moved by compaction. DATA_LOSS when it fails verification.
  absl::StatusOr<ChunkData> ReadVerified(absl::string_view id, Location loc);
  absl::StatusOr<ChunkData> ReadAt(absl::string_view id, const Location& loc);
  // Copies the raw record to quarantine/ for inspection (best effort).
  void KeepForInspection(absl::string_view hex, const Location& loc);

  // The compaction of one extent.
  absl::Status CompactExtent(uint64_t extent);

  Filesystem* const fs_;
  Clock* const clock_;
  const std::string data_dir_;
  const std::string pack_dir_;
  const std::string quarantine_dir_;
  const PackChunkStoreOptions options_;

  IdLocks id_locks_;
  absl::Mutex compact_mu_;
  absl::Mutex mu_;
  absl::CondVar synced_cv_;
  absl::btree_map<std::string, Location> index_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<uint64_t, Extent> extents_ ABSL_GUARDED_BY(mu_);
  // Put records on disk that are not live, per id: while any remains, a tombstone for the id
  // must be kept by compaction (or the older put would come back at the next Open()).
  absl::flat_hash_map<std::string, uint32_t> dead_puts_ ABSL_GUARDED_BY(mu_);
  uint64_t active_ ABSL_GUARDED_BY(mu_) = 0;  // extent taking appends; 0: none
  uint64_t next_extent_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t disk_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t live_put_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medvault::chunkserver
