// The chunk server's durable store of ciphertext chunks: the ChunkStore interface and the
// one-file-per-chunk FileChunkStore (each file named by the chunk's random 16-byte id, framed with
// a magic, the payload length and the payload's CRC32C). A write is durable (file and directory
// fsync'd) before it is acknowledged; a read verifies the checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/core/chunk_file.h"
#include "chunkserver/core/id_locks.h"
#include "common/env.h"

namespace medvault::chunkserver {

// List() returns at most this many entries per page (also the page size when limit is 0).
inline constexpr uint32_t kMaxListLimit = 10000;

struct ChunkListEntry {
  std::string id;            // kChunkIdBytes
  uint64_t size = 0;         // bytes of the file on disk (header included)
  uint64_t age_seconds = 0;  // clock now - file mtime, never negative
};

struct ChunkList {
  std::vector<ChunkListEntry> entries;  // ascending by id
  bool more = false;                    // true when ids follow the last entry returned
};

struct ChunkStoreStats {
  uint64_t chunk_count = 0;
  uint64_t bytes_stored = 0;  // sum of chunk file sizes (headers included)
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
};

struct ChunkStoreOptions {
  // At most this many bytes of chunk files (headers included); 0: no limit but the filesystem's.
  // A write beyond it is RESOURCE_EXHAUSTED, and Stats() reports the quota as capacity.
  uint64_t max_bytes = 0;
};

// At most this many quarantined ids wait to be reported; older ones are dropped (the metaserver's
// census finds the replicas missing anyway).
inline constexpr size_t kMaxPendingQuarantined = 1000;

// The chunk server's store of ciphertext chunks, behind which sit two layouts: FileChunkStore (one
// file per chunk, below) and PackChunkStore (chunks appended to large extent files,
// pack_chunk_store.h), chosen by the chunkserver's --chunk_store flag. Both keep the same
// guarantees: a write is durable before it is acknowledged, every read verifies the chunk's
// CRC32C and id, a chunk failing verification is quarantined and reported, never served.
// Thread-safe. Errors carry chunk ids in hex and file paths, never anything else.
class ChunkStore {
 public:
  virtual ~ChunkStore() = default;

  // Creates the directories, cleans up interrupted writes and counts the stored chunks.
  // REQUIRES: called once, before any other method.
  virtual absl::Status Open() = 0;

  // Stores `data` under `id` durably: when this returns OK the chunk survives a crash.
  // INVALID_ARGUMENT unless id is kChunkIdBytes long; DATA_LOSS (nothing stored) when
  // Crc32c(data) != crc32c; OK when the chunk is already stored with these exact bytes;
  // ALREADY_EXISTS when it is stored with other bytes; RESOURCE_EXHAUSTED when the disk is full.
  // On any error no new chunk becomes visible. A stored chunk that fails verification is replaced
  // by the new (checksum-verified) bytes.
  virtual absl::Status Write(absl::string_view id, absl::string_view data, uint32_t crc32c) = 0;

  // Reads and verifies a chunk. INVALID_ARGUMENT for a bad id, NOT_FOUND when absent, DATA_LOSS
  // when it is truncated, has a bad header or its payload does not match the stored CRC32C; such
  // a chunk is quarantined (later reads say NOT_FOUND and listings leave it out) and its id
  // queued for TakeQuarantined().
  virtual absl::StatusOr<ChunkData> Read(absl::string_view id) = 0;

  // Quarantines the chunk if it (still) fails verification; true when it did.
  virtual absl::StatusOr<bool> QuarantineIfCorrupt(absl::string_view id) = 0;
  // Ids quarantined since the last call (at most kMaxPendingQuarantined), for the heartbeat.
  std::vector<std::string> TakeQuarantined();
  // Puts back ids a failed heartbeat could not report.
  void ReturnQuarantined(const std::vector<std::string>& ids);

  // Deletes the chunks durably and returns how many existed (absent ids are ignored; duplicates
  // count once). INVALID_ARGUMENT (nothing deleted) when any id is not kChunkIdBytes long.
  virtual absl::StatusOr<uint32_t> Delete(const std::vector<std::string>& ids) = 0;

  // Up to `limit` stored chunks with id > start_after (bytewise; empty: from the start),
  // ascending. limit 0 or above kMaxListLimit means kMaxListLimit.
  virtual absl::StatusOr<ChunkList> List(absl::string_view start_after, uint32_t limit) = 0;

  // Counts from memory plus the disk space of the filesystem holding data_dir.
  virtual absl::StatusOr<ChunkStoreStats> Stats() = 0;

  // Number of chunks stored (cheap: no I/O).
  virtual uint64_t chunk_count() = 0;

  virtual const std::string& data_dir() const = 0;

 protected:
  // Queues a quarantined id for the next heartbeat.
  void NoteQuarantined(absl::string_view id);

 private:
  absl::Mutex quarantine_mu_;
  std::vector<std::string> quarantined_ ABSL_GUARDED_BY(quarantine_mu_);
};

// FAILED_PRECONDITION when `dir`, the directory of another layout, holds anything: a store never
// starts over (and so hides) chunks it cannot read.
absl::Status RefuseOtherLayout(Filesystem* fs, const std::string& dir, absl::string_view layout);

// The layout ("files" or "pack") a chunk server opens `data_dir` with. An operator's explicit
// choice (`requested`, non-empty) stands (and a store of the other layout then refuses to start).
// Otherwise the layout the directory already holds chunks in is kept, so a server upgraded to a
// release with another default still reads its chunks; an empty or new directory gets
// kDefaultLayout. INVALID_ARGUMENT for another name.
inline constexpr char kDefaultLayout[] = "pack";
absl::StatusOr<std::string> ChooseLayout(Filesystem* fs, const std::string& data_dir,
                                         const std::string& requested);

// FileChunkStore: one file per chunk. Layout under data_dir:
//   chunks/<first 2 hex chars of id>/<32 hex chars of id>   one file per chunk
//   tmp/                                                   files being written; emptied by Open()
//   quarantine/<32 hex chars of id>                        replicas that failed verification, kept
//                                                          for inspection, never served
// Operations on the same id are serialised by a per-id lock; operations on different ids run in
// parallel (no store-wide lock is held across file I/O or fsync).
class FileChunkStore : public ChunkStore {
 public:
  // Does not take ownership; `fs` and `clock` must outlive the store. Call Open() before use.
  FileChunkStore(Filesystem* fs, Clock* clock, std::string data_dir,
                 ChunkStoreOptions options = {});
  FileChunkStore(const FileChunkStore&) = delete;
  FileChunkStore& operator=(const FileChunkStore&) = delete;

  // Also deletes leftovers of interrupted writes in tmp/.
  absl::Status Open() override;
  // Writes via tmp/ + rename, file and directory fsync'd; no temporary file is left on error.
  absl::Status Write(absl::string_view id, absl::string_view data, uint32_t crc32c) override;
  // A chunk failing verification is moved to quarantine/.
  absl::StatusOr<ChunkData> Read(absl::string_view id) override;
  absl::StatusOr<bool> QuarantineIfCorrupt(absl::string_view id) override;
  absl::StatusOr<uint32_t> Delete(const std::vector<std::string>& ids) override;
  // age_seconds is the clock's now minus the file's mtime.
  absl::StatusOr<ChunkList> List(absl::string_view start_after, uint32_t limit) override;
  absl::StatusOr<ChunkStoreStats> Stats() override;
  uint64_t chunk_count() override;
  const std::string& data_dir() const override { return data_dir_; }

 private:
  std::string SubdirName(absl::string_view hex_id) const;
  std::string ChunkPath(absl::string_view hex_id) const;
  // Creates chunks/<xx>/ if needed and makes its entry in chunks/ durable.
  absl::Status EnsureSubdir(const std::string& subdir_name);
  // Writes a new chunk file via tmp/ + rename. REQUIRES: the id lock is held.
  absl::Status WriteNewFile(absl::string_view id, absl::string_view hex_id, absl::string_view data,
                            uint32_t crc32c);
  absl::Status ScanExisting();
  // Adjusts the counters by one chunk of `old_size` replaced with one of `new_size`
  // (0 for "no file").
  void AccountReplace(bool had_file, uint64_t old_size, bool has_file, uint64_t new_size);

  Filesystem* const fs_;
  Clock* const clock_;
  const std::string data_dir_;
  const std::string chunks_dir_;
  const std::string tmp_dir_;
  const std::string quarantine_dir_;
  const ChunkStoreOptions options_;

  IdLocks id_locks_;
  absl::Mutex mu_;
  // Subdirectories of chunks/ known to exist durably.
  absl::flat_hash_set<std::string> durable_subdirs_ ABSL_GUARDED_BY(mu_);
  uint64_t chunk_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_stored_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_tmp_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medvault::chunkserver
