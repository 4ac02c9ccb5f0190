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

}  // namespace medvault::frontend
