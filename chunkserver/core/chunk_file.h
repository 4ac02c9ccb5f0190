// The on-disk format of one chunk: its file name (32 lower-case hex digits of the 16-byte id,
// under chunks/<first two digits>/) and its framing (magic, payload length, CRC32C, payload).
// Pure functions, no I/O; the chunk store (chunk_store.h) does the reading and writing.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::chunkserver {

inline constexpr size_t kChunkIdBytes = 16;
inline constexpr size_t kHexIdChars = 2 * kChunkIdBytes;
// Chunk files live in chunks/<the first kSubdirChars hex digits of the id>/.
inline constexpr size_t kSubdirChars = 2;
// On-disk file, format version 2 (written since issue 14): kChunkMagic "MVC2" (4 bytes) | payload
// length (u64 LE) | CRC32C of payload (u32 LE) | chunk id (16 bytes) | CRC32C of the preceding 32
// header bytes (u32 LE) | payload. The id binds the file to its name: a file moved or copied under
// another chunk's name fails verification like rot. The id is random and reveals nothing.
inline constexpr char kChunkMagic[] = "MVC2";
inline constexpr size_t kChunkHeaderBytes = 36;
// Format version 1 (older files, still read): "MVC1" | payload length (u64 LE) | CRC32C of payload
// (u32 LE) | payload. It carries no id, so a swapped version-1 file passes verification.
inline constexpr char kChunkMagicV1[] = "MVC1";
inline constexpr size_t kChunkHeaderBytesV1 = 16;

struct ChunkData {
  std::string data;
  uint32_t crc32c = 0;
};

// True when `s` is exactly `length` lower-case hex digits.
bool IsLowerHex(absl::string_view s, size_t length);
// True when `name`, a file under chunks/<subdir>/, names a chunk.
bool IsChunkFileName(absl::string_view name, absl::string_view subdir);
// INVALID_ARGUMENT unless `id` is kChunkIdBytes long.
absl::Status CheckChunkId(absl::string_view id);
// DATA_LOSS (naming the chunk by `hex_id`) unless Crc32c(data) == crc32c.
absl::Status CheckChunkCrc(absl::string_view hex_id, absl::string_view data, uint32_t crc32c);
// `dir` without trailing slashes ("/" stays).
std::string StripTrailingSlashes(std::string dir);

// Encodes and decodes the on-disk framing. `id` is the chunk's kChunkIdBytes-byte id.
std::string EncodeChunkHeader(absl::string_view id, uint64_t payload_length, uint32_t crc32c);
// Verifies `file` (header + payload), the file stored under chunk `id`, and returns the payload and
// its CRC; DATA_LOSS on any mismatch, including a version-2 header naming another chunk. Reads
// both format versions. Consumes `file` to avoid a copy.
absl::StatusOr<ChunkData> DecodeChunkFile(absl::string_view id, std::string file);

}  // namespace medvault::chunkserver
