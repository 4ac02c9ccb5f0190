#include "chunkserver/core/chunk_file.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace medvault::chunkserver {
namespace {

void PutLe(uint64_t v, size_t bytes, char* out) {
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t GetLe(const char* in, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

}  // namespace

bool IsLowerHex(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsChunkFileName(absl::string_view name, absl::string_view subdir) {
  return IsLowerHex(name, kHexIdChars) && name.substr(0, kSubdirChars) == subdir;
}

absl::Status CheckChunkId(absl::string_view id) {
  if (id.size() != kChunkIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk id must be ", kChunkIdBytes, " bytes, got ", id.size()));
  }
  return absl::OkStatus();
}

std::string EncodeChunkHeader(absl::string_view id, uint64_t payload_length, uint32_t crc32c) {
  std::string header(kChunkHeaderBytes, '\0');
  std::memcpy(&header[0], kChunkMagic, 4);
  PutLe(payload_length, 8, &header[4]);
  PutLe(crc32c, 4, &header[12]);
  std::memcpy(&header[16], id.data(), std::min(id.size(), kChunkIdBytes));
  PutLe(Crc32c(absl::string_view(header.data(), 32)), 4, &header[32]);
  return header;
}

absl::StatusOr<ChunkData> DecodeChunkFile(absl::string_view id, std::string file) {
  if (file.size() < 4) {
    return absl::DataLossError(
        absl::StrCat("chunk file truncated: ", file.size(), " bytes, shorter than the header"));
  }
  size_t header_bytes;
  if (std::memcmp(file.data(), kChunkMagic, 4) == 0) {
    header_bytes = kChunkHeaderBytes;
  } else if (std::memcmp(file.data(), kChunkMagicV1, 4) == 0) {
    header_bytes = kChunkHeaderBytesV1;
  } else {
    return absl::DataLossError("chunk file has a bad magic");
  }
  if (file.size() < header_bytes) {
    return absl::DataLossError(
        absl::StrCat("chunk file truncated: ", file.size(), " bytes, shorter than the header"));
  }
  if (header_bytes == kChunkHeaderBytes) {
    const uint32_t header_crc = static_cast<uint32_t>(GetLe(file.data() + 32, 4));
    if (Crc32c(absl::string_view(file.data(), 32)) != header_crc) {
      return absl::DataLossError("chunk file header fails its checksum");
    }
    const absl::string_view stored_id(file.data() + 16, kChunkIdBytes);
    if (stored_id != id) {
      return absl::DataLossError(absl::StrCat("chunk file holds chunk ", ToHex(stored_id),
                                              ", not the chunk it is named for"));
    }
  }
  const uint64_t length = GetLe(file.data() + 4, 8);
  const uint32_t stored_crc = static_cast<uint32_t>(GetLe(file.data() + 12, 4));
  const uint64_t actual = file.size() - header_bytes;
  if (length != actual) {
    return absl::DataLossError(absl::StrCat("chunk file length mismatch: header says ", length,
                                            " payload bytes, file holds ", actual));
  }
  file.erase(0, header_bytes);
  const uint32_t computed = Crc32c(file);
  if (computed != stored_crc) {
    return absl::DataLossError(absl::StrCat("chunk checksum mismatch: stored crc32c ", stored_crc,
                                            ", computed ", computed));
  }
  ChunkData out;
  out.data = std::move(file);
  out.crc32c = stored_crc;
  return out;
}

absl::Status CheckChunkCrc(absl::string_view hex_id, absl::string_view data, uint32_t crc32c) {
  const uint32_t computed = Crc32c(data);
  if (computed == crc32c) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("chunk ", hex_id, ": data does not match crc32c (sent ",
                                          crc32c, ", computed ", computed, ")"));
}

std::string StripTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace medvault::chunkserver
