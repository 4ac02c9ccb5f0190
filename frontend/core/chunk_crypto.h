// The chunk envelope: how one chunk of an object is encrypted before it leaves the frontend.
// AES-256-GCM under the object's own data key, with associated data that binds the object id, the
// chunk index and a last-chunk flag (as Tink's streaming AEAD does), so chunks cannot be altered,
// reordered, truncated away or swapped between objects without DecryptChunk failing.
//
// Stored bytes: version (1 byte, 0x01) || nonce (12 random bytes) || ciphertext || GCM tag (16).
// Associated data: "medvault-chunk-v1" || object id (16) || chunk index (u32 big-endian) ||
// last flag (1 byte: 1 for the final chunk, else 0).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::frontend {

constexpr uint8_t kChunkFormatVersion = 1;
// Bytes the envelope adds to each chunk's plaintext.
constexpr size_t kChunkOverheadBytes = 1 + 12 + 16;

// REQUIRES: key is 32 bytes, object_id 16 bytes.
absl::StatusOr<std::string> EncryptChunk(absl::string_view key, absl::string_view object_id,
                                         uint32_t index, bool last, absl::string_view plaintext);

// DATA_LOSS when the envelope is malformed or authentication fails (wrong key, object, index,
// last flag, or any altered byte).
absl::StatusOr<std::string> DecryptChunk(absl::string_view key, absl::string_view object_id,
                                         uint32_t index, bool last, absl::string_view stored);

// A chunk's plaintext, held in the buffer its sealed bytes arrived in (DecryptChunkInPlace), or in
// a buffer of its own; moved, never copied, from the chunk fetch to the response.
class PlainChunk {
 public:
  PlainChunk() = default;
  explicit PlainChunk(std::string plain) : size_(plain.size()), buffer_(std::move(plain)) {}
  PlainChunk(PlainChunk&&) = default;
  PlainChunk& operator=(PlainChunk&&) = default;

  absl::string_view view() const { return absl::string_view(buffer_).substr(offset_, size_); }
  size_t size() const { return size_; }
  // Keeps bytes [from, to) of the plaintext only. REQUIRES: from <= to <= size().
  void Narrow(size_t from, size_t to) {
    offset_ += from;
    size_ = to - from;
  }

 private:
  friend absl::StatusOr<PlainChunk> DecryptChunkInPlace(absl::string_view, absl::string_view,
                                                        uint32_t, bool, std::string);
  size_t offset_ = 0;
  size_t size_ = 0;
  std::string buffer_;
};

// DecryptChunk without a second buffer: the plaintext replaces the ciphertext in `stored`. The
// same errors as DecryptChunk; on any of them nothing of the chunk is returned and the bytes
// decrypted so far are wiped.
absl::StatusOr<PlainChunk> DecryptChunkInPlace(absl::string_view key, absl::string_view object_id,
                                               uint32_t index, bool last, std::string stored);

}  // namespace medvault::frontend
