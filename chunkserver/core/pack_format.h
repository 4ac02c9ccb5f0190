// The on-disk format of the pack chunk store (pack_chunk_store.h): extent files named by a
// sequence number, each a header followed by self-describing records. Pure functions, no I/O.
//
// Extent file pack/<16 hex digits of the extent number>.mvx:
//   kExtentMagic "MVX1" | extent number (u64 LE) | CRC32C of the preceding 12 bytes (u32 LE)
//   then records, back to back:
//   kRecordMagic "MVR1" | type (u8: 1 put, 2 tombstone) | 3 zero bytes | sequence number (u64 LE)
//   | write time, microseconds since the epoch (i64 LE) | chunk id (16 bytes) | payload length
//   (u64 LE) | CRC32C of the payload (u32 LE) | CRC32C of the preceding 52 header bytes (u32 LE)
//   | payload (the chunk's ciphertext; empty for a tombstone).
// The sequence number orders every record of a store: the record with the highest number for an
// id wins (a tombstone deletes, a put stores), so a copy made by compaction (same number, same
// bytes) and its original are interchangeable. The id is random and reveals nothing.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::chunkserver {

inline constexpr char kExtentMagic[] = "MVX1";
inline constexpr size_t kExtentHeaderBytes = 16;
inline constexpr char kRecordMagic[] = "MVR1";
inline constexpr size_t kRecordHeaderBytes = 56;

enum class RecordType : uint8_t { kPut = 1, kTombstone = 2 };

struct RecordHeader {
  RecordType type = RecordType::kPut;
  uint64_t seq = 0;
  int64_t write_micros = 0;
  std::string id;  // kChunkIdBytes
  uint64_t payload_length = 0;
  uint32_t payload_crc32c = 0;
};

// "0000000000000007.mvx" for extent 7.
std::string ExtentFileName(uint64_t extent);
// True (and *extent set) when `name` is an extent file name.
bool ParseExtentFileName(absl::string_view name, uint64_t* extent);

std::string EncodeExtentHeader(uint64_t extent);
// DATA_LOSS unless `bytes` starts with a valid header of extent `extent`.
absl::Status CheckExtentHeader(absl::string_view bytes, uint64_t extent);

std::string EncodeRecordHeader(const RecordHeader& header);
// Decodes the first kRecordHeaderBytes of `bytes`; DATA_LOSS when they are short, lack the magic,
// fail their CRC or name an unknown type.
absl::StatusOr<RecordHeader> DecodeRecordHeader(absl::string_view bytes);

}  // namespace medvault::chunkserver
