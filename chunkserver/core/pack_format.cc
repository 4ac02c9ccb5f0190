#include "chunkserver/core/pack_format.h"

#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chunkserver/core/chunk_file.h"
#include "common/crypto.h"

namespace medvault::chunkserver {
namespace {

constexpr char kExtentSuffix[] = ".mvx";
constexpr size_t kExtentNameDigits = 16;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(absl::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

uint32_t GetU32(absl::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

}  // namespace

std::string ExtentFileName(uint64_t extent) {
  char digits[kExtentNameDigits + 1];
  std::snprintf(digits, sizeof(digits), "%016llx", static_cast<unsigned long long>(extent));
  return absl::StrCat(digits, kExtentSuffix);
}

bool ParseExtentFileName(absl::string_view name, uint64_t* extent) {
  if (name.size() != kExtentNameDigits + std::strlen(kExtentSuffix)) return false;
  if (name.substr(kExtentNameDigits) != kExtentSuffix) return false;
  const absl::string_view digits = name.substr(0, kExtentNameDigits);
  if (!IsLowerHex(digits, kExtentNameDigits)) return false;
  return absl::SimpleHexAtoi(digits, extent);
}

std::string EncodeExtentHeader(uint64_t extent) {
  std::string out(kExtentMagic, 4);
  PutU64(&out, extent);
  PutU32(&out, Crc32c(out));
  return out;
}

absl::Status CheckExtentHeader(absl::string_view bytes, uint64_t extent) {
  if (bytes.size() < kExtentHeaderBytes ||
      bytes.substr(0, 4) != absl::string_view(kExtentMagic, 4) ||
      GetU32(bytes, 12) != Crc32c(bytes.substr(0, 12)) || GetU64(bytes, 4) != extent) {
    return absl::DataLossError(absl::StrCat("extent ", extent, ": bad header"));
  }
  return absl::OkStatus();
}

std::string EncodeRecordHeader(const RecordHeader& header) {
  std::string out(kRecordMagic, 4);
  out.push_back(static_cast<char>(header.type));
  out.append(3, '\0');
  PutU64(&out, header.seq);
  PutU64(&out, static_cast<uint64_t>(header.write_micros));
  out.append(header.id);
  PutU64(&out, header.payload_length);
  PutU32(&out, header.payload_crc32c);
  PutU32(&out, Crc32c(out));
  return out;
}

absl::StatusOr<RecordHeader> DecodeRecordHeader(absl::string_view bytes) {
  if (bytes.size() < kRecordHeaderBytes) return absl::DataLossError("record header: truncated");
  if (bytes.substr(0, 4) != absl::string_view(kRecordMagic, 4)) {
    return absl::DataLossError("record header: bad magic");
  }
  if (GetU32(bytes, 52) != Crc32c(bytes.substr(0, 52))) {
    return absl::DataLossError("record header: checksum mismatch");
  }
  RecordHeader h;
  const uint8_t type = static_cast<uint8_t>(bytes[4]);
  if (type != static_cast<uint8_t>(RecordType::kPut) &&
      type != static_cast<uint8_t>(RecordType::kTombstone)) {
    return absl::DataLossError("record header: unknown type");
  }
  h.type = static_cast<RecordType>(type);
  h.seq = GetU64(bytes, 8);
  h.write_micros = static_cast<int64_t>(GetU64(bytes, 16));
  h.id = std::string(bytes.substr(24, kChunkIdBytes));
  h.payload_length = GetU64(bytes, 40);
  h.payload_crc32c = GetU32(bytes, 48);
  return h;
}

}  // namespace medvault::chunkserver
