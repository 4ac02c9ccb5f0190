#include "chunkserver/core/chunk_file.h"

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

std::string EncodeChunkHeader(uint64_t payload_length, uint32_t crc32c) {
  std::string header(kChunkHeaderBytes, '\0');
  std::memcpy(&header[0], kChunkMagic, 4);
  PutLe(payload_length, 8, &header[4]);
  PutLe(crc32c, 4, &header[12]);
  return header;
}

absl::StatusOr<ChunkData> DecodeChunkFile(std::string file) {
  if (file.size() < kChunkHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("chunk file truncated: ", file.size(), " bytes, shorter than the header"));
  }
  if (std::memcmp(file.data(), kChunkMagic, 4) != 0) {
    return absl::DataLossError("chunk file has a bad magic");
  }
  const uint64_t length = GetLe(file.data() + 4, 8);
  const uint32_t stored_crc = static_cast<uint32_t>(GetLe(file.data() + 12, 4));
  const uint64_t actual = file.size() - kChunkHeaderBytes;
  if (length != actual) {
    return absl::DataLossError(absl::StrCat("chunk file length mismatch: header says ", length,
                                            " payload bytes, file holds ", actual));
  }
  file.erase(0, kChunkHeaderBytes);
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

}  // namespace medvault::chunkserver
