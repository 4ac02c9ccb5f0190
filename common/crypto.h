// Cryptographic primitives medvault uses, all from OpenSSL (AES-256-GCM, SHA-256, the CSPRNG) and
// ISA-L (CRC32C). Nothing here is hand-written cryptography.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault {

constexpr size_t kAesKeyBytes = 32;    // AES-256
constexpr size_t kGcmNonceBytes = 12;  // 96-bit nonce
constexpr size_t kGcmTagBytes = 16;

// A std::string for secrets: its bytes are wiped with OPENSSL_cleanse when destroyed or cleared.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes() { Wipe(); }

  absl::string_view view() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // Overwrites the bytes with zeros and empties the buffer.
  void Wipe();

 private:
  std::string bytes_;
};

// Wipes a buffer that held secret bytes.
void WipeString(std::string* s);

// `n` bytes from OpenSSL's CSPRNG. INTERNAL if the generator fails.
absl::StatusOr<std::string> RandomBytes(size_t n);

// SHA-256 digest (32 bytes).
std::string Sha256(absl::string_view data);

// Incremental SHA-256.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  void Update(absl::string_view data);
  std::string Finish();

 private:
  void* ctx_;
};

// CRC32C (Castagnoli), the iSCSI polynomial, computed by ISA-L; standard init/final inversion, so
// Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(absl::string_view data);

// AES-256-GCM. Seal returns ciphertext || tag; Open verifies the tag and returns the plaintext,
// or DATA_LOSS when the key, nonce, associated data or ciphertext do not match.
absl::StatusOr<std::string> AesGcmSeal(absl::string_view key, absl::string_view nonce,
                                       absl::string_view associated_data,
                                       absl::string_view plaintext);
// Seal into `out`, which has room for plaintext.size() + kGcmTagBytes bytes (no copy of the
// result).
absl::Status AesGcmSealTo(absl::string_view key, absl::string_view nonce,
                          absl::string_view associated_data, absl::string_view plaintext,
                          char* out);
absl::StatusOr<std::string> AesGcmOpen(absl::string_view key, absl::string_view nonce,
                                       absl::string_view associated_data,
                                       absl::string_view ciphertext_and_tag);
// Open in place: `data` holds ciphertext || tag (ciphertext_and_tag_bytes in all); on success its
// first ciphertext_and_tag_bytes - kGcmTagBytes bytes are the plaintext. On any failure (DATA_LOSS
// for a tag mismatch) those bytes are wiped, so no unauthenticated plaintext is left behind.
absl::Status AesGcmOpenInPlace(absl::string_view key, absl::string_view nonce,
                               absl::string_view associated_data, char* data,
                               size_t ciphertext_and_tag_bytes);

// Lower-case hex of bytes (ids in logs and file names; never for secrets or PHI).
std::string ToHex(absl::string_view bytes);
// Inverse of ToHex; INVALID_ARGUMENT on bad input.
absl::StatusOr<std::string> FromHex(absl::string_view hex);

}  // namespace medvault
