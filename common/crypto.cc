#include "common/crypto.h"

#include <isa-l/crc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace medvault {

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
  }
  return *this;
}

void SecretBytes::Wipe() { WipeString(&bytes_); }

void WipeString(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("CSPRNG failure (RAND_bytes)");
  }
  return out;
}

std::string Sha256(absl::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256Hasher::Update(absl::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256Hasher::Finish() {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), reinterpret_cast<unsigned char*>(out.data()),
                     &len);
  return out;
}

uint32_t Crc32c(absl::string_view data) {
  // ISA-L takes an int length; feed large buffers in pieces.
  uint32_t crc = 0xFFFFFFFFu;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    int n = static_cast<int>(std::min<size_t>(left, 1u << 30));
    crc = crc32_iscsi(const_cast<unsigned char*>(p), n, crc);
    p += n;
    left -= static_cast<size_t>(n);
  }
  return crc ^ 0xFFFFFFFFu;
}

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

absl::Status CheckKeyNonce(absl::string_view key, absl::string_view nonce) {
  if (key.size() != kAesKeyBytes)
    return absl::InvalidArgumentError("AES-256-GCM key must be 32 bytes");
  if (nonce.size() != kGcmNonceBytes)
    return absl::InvalidArgumentError("GCM nonce must be 12 bytes");
  return absl::OkStatus();
}

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::Status AesGcmSealTo(absl::string_view key, absl::string_view nonce,
                          absl::string_view associated_data, absl::string_view plaintext,
                          char* out) {
  absl::Status s = CheckKeyNonce(key, nonce);
  if (!s.ok()) return s;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out);
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o, &len, U(plaintext), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, o + plaintext.size()) !=
          1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AesGcmSeal(absl::string_view key, absl::string_view nonce,
                                       absl::string_view associated_data,
                                       absl::string_view plaintext) {
  std::string out(plaintext.size() + kGcmTagBytes, '\0');
  absl::Status s = AesGcmSealTo(key, nonce, associated_data, plaintext, out.data());
  if (!s.ok()) return s;
  return out;
}

namespace {

// Decrypts ct_len bytes at `in` into `out` (which may be `in`: OpenSSL's GCM decrypts in place)
// and checks `tag`; on any failure the bytes written to `out` are wiped.
absl::Status GcmOpen(absl::string_view key, absl::string_view nonce,
                     absl::string_view associated_data, const char* in, size_t ct_len,
                     const char* tag_bytes, char* out) {
  absl::Status s = CheckKeyNonce(key, nonce);
  if (!s.ok()) return s;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out);
  unsigned char tag[kGcmTagBytes];
  std::memcpy(tag, tag_bytes, kGcmTagBytes);  // `tag_bytes` may lie inside what is decrypted
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(in),
                        static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag) != 1) {
    OPENSSL_cleanse(out, ct_len);
    return absl::InternalError("AES-256-GCM decryption setup failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), o + len, &len) != 1) {
    OPENSSL_cleanse(out, ct_len);
    return absl::DataLossError("authentication failed (AES-256-GCM tag mismatch)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AesGcmOpen(absl::string_view key, absl::string_view nonce,
                                       absl::string_view associated_data,
                                       absl::string_view ciphertext_and_tag) {
  if (ciphertext_and_tag.size() < kGcmTagBytes)
    return absl::DataLossError("ciphertext shorter than GCM tag");
  const size_t ct_len = ciphertext_and_tag.size() - kGcmTagBytes;
  std::string out(ct_len, '\0');
  absl::Status s = GcmOpen(key, nonce, associated_data, ciphertext_and_tag.data(), ct_len,
                           ciphertext_and_tag.data() + ct_len, out.data());
  if (!s.ok()) return s;
  return out;
}

absl::Status AesGcmOpenInPlace(absl::string_view key, absl::string_view nonce,
                               absl::string_view associated_data, char* data,
                               size_t ciphertext_and_tag_bytes) {
  if (ciphertext_and_tag_bytes < kGcmTagBytes)
    return absl::DataLossError("ciphertext shorter than GCM tag");
  const size_t ct_len = ciphertext_and_tag_bytes - kGcmTagBytes;
  return GcmOpen(key, nonce, associated_data, data, ct_len, data + ct_len, data);
}

std::string ToHex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

absl::StatusOr<std::string> FromHex(absl::string_view hex) {
  if (hex.size() % 2 != 0) return absl::InvalidArgumentError("hex string has odd length");
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return absl::InvalidArgumentError("not a hex string");
  }
  return absl::HexStringToBytes(hex);
}

}  // namespace medvault
