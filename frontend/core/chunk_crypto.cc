#include "frontend/core/chunk_crypto.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace medvault::frontend {
namespace {

constexpr absl::string_view kAdLabel = "medvault-chunk-v1";

std::string AssociatedData(absl::string_view object_id, uint32_t index, bool last) {
  std::string ad(kAdLabel);
  ad.append(object_id.data(), object_id.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    ad.push_back(static_cast<char>((index >> shift) & 0xff));
  ad.push_back(last ? 1 : 0);
  return ad;
}

absl::Status CheckEnvelope(absl::string_view stored) {
  if (stored.size() < kChunkOverheadBytes) return absl::DataLossError("chunk envelope too short");
  if (static_cast<uint8_t>(stored[0]) != kChunkFormatVersion) {
    return absl::DataLossError(absl::StrCat("unknown chunk envelope version ",
                                            static_cast<int>(static_cast<uint8_t>(stored[0]))));
  }
  return absl::OkStatus();
}

// A failed authentication says which chunk; other errors pass as they are.
absl::Status OpenError(const absl::Status& status, uint32_t index) {
  if (status.code() == absl::StatusCode::kDataLoss) {
    return absl::DataLossError(absl::StrCat("chunk ", index, " failed authentication"));
  }
  return status;
}

}  // namespace

absl::StatusOr<std::string> EncryptChunk(absl::string_view key, absl::string_view object_id,
                                         uint32_t index, bool last, absl::string_view plaintext) {
  if (object_id.size() != 16) return absl::InvalidArgumentError("object id must be 16 bytes");
  ASSIGN_OR_RETURN(std::string nonce, RandomBytes(kGcmNonceBytes));
  // The envelope is built in place: version, nonce, then the ciphertext sealed straight into it.
  std::string out(1 + nonce.size() + plaintext.size() + kGcmTagBytes, '\0');
  out[0] = static_cast<char>(kChunkFormatVersion);
  out.replace(1, nonce.size(), nonce);
  RETURN_IF_ERROR(AesGcmSealTo(key, nonce, AssociatedData(object_id, index, last), plaintext,
                               out.data() + 1 + nonce.size()));
  return out;
}

absl::StatusOr<std::string> DecryptChunk(absl::string_view key, absl::string_view object_id,
                                         uint32_t index, bool last, absl::string_view stored) {
  RETURN_IF_ERROR(CheckEnvelope(stored));
  absl::string_view nonce = stored.substr(1, kGcmNonceBytes);
  absl::string_view sealed = stored.substr(1 + kGcmNonceBytes);
  auto plain = AesGcmOpen(key, nonce, AssociatedData(object_id, index, last), sealed);
  if (!plain.ok()) return OpenError(plain.status(), index);
  return plain;
}

absl::StatusOr<PlainChunk> DecryptChunkInPlace(absl::string_view key, absl::string_view object_id,
                                               uint32_t index, bool last, std::string stored) {
  RETURN_IF_ERROR(CheckEnvelope(stored));
  const std::string nonce = stored.substr(1, kGcmNonceBytes);
  const size_t at = 1 + kGcmNonceBytes;
  absl::Status opened = AesGcmOpenInPlace(key, nonce, AssociatedData(object_id, index, last),
                                          stored.data() + at, stored.size() - at);
  if (!opened.ok()) return OpenError(opened, index);
  PlainChunk plain;
  plain.offset_ = at;
  plain.size_ = stored.size() - kChunkOverheadBytes;
  plain.buffer_ = std::move(stored);
  return plain;
}

}  // namespace medvault::frontend
