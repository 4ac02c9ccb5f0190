// What a chunk server holds on disk, read and damaged the way tests need it, whatever the layout
// (chunk_store.h: one file per chunk under chunks/; pack_chunk_store.h: records in extent files
// under pack/). The layout is recognised from the data directory; the pack records are decoded
// with the store's own format code (pack_format.h). Test-only: the damage is done behind the
// server's back, as rot or an operator's mistake would do it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medvault::chunkserver::testing {

// Where one live chunk's bytes are: the whole file `path` (files layout) or the record of
// `length` bytes (header included) at `offset` in the extent file `path` (pack layout).
struct ChunkOnDisk {
  std::string id;  // kChunkIdBytes
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t payload_offset = 0;  // where the ciphertext starts, from `offset`
  bool packed = false;          // a record in an extent file (pack layout)
};

// "files", "pack", or "" when `data_dir` holds neither layout's directory yet.
std::string LayoutOf(const std::string& data_dir);

// Every live chunk under `data_dir`, sorted by id. For the pack layout: the newest record of each
// id unless that is a tombstone, read up to each extent's first invalid record (as the store's
// Open() does); a record that is already damaged is listed all the same.
absl::StatusOr<std::vector<ChunkOnDisk>> ListChunksOnDisk(const std::string& data_dir);
// The number of live chunks of `ids` (each counted once) under `data_dir`.
absl::StatusOr<size_t> CountChunksOnDisk(const std::string& data_dir,
                                         const std::vector<std::string>& ids);

// The chunk's raw bytes on disk (its file, or its record).
absl::StatusOr<std::string> ReadChunkOnDisk(const ChunkOnDisk& chunk);
// Writes `bytes` back where ReadChunkOnDisk read them (a stale copy put back), creating the file
// or its directory when they are gone.
absl::Status RestoreChunkOnDisk(const ChunkOnDisk& chunk, const std::string& bytes);
// Flips one ciphertext byte (rot): the chunk fails its CRC32C when read.
absl::Status CorruptChunkOnDisk(const ChunkOnDisk& chunk);
// Makes the chunk unreadable as a whole: deletes its file, or wipes its record's header (the
// bytes of an extent cannot be taken out while the server has it open).
absl::Status RemoveChunkOnDisk(const ChunkOnDisk& chunk);
// Exchanges the bytes of two chunks, each staying intact with a valid checksum (a misplaced copy).
// REQUIRES for the pack layout: equal lengths (records are swapped in place).
absl::Status SwapChunksOnDisk(const ChunkOnDisk& a, const ChunkOnDisk& b);

}  // namespace medvault::chunkserver::testing
