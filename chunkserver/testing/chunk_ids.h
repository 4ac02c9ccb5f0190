// Chunk ids and payloads for the chunk server's unit tests: ids told apart by their first and last
// bytes (the rest `fill`, a byte of each test file's own), and random payloads. Test-only.
#pragma once

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "chunkserver/core/chunk_file.h"
#include "common/crypto.h"

namespace medvault::chunkserver::testing {

// A kChunkIdBytes id: `first`, then `fill` bytes, then `last`.
inline std::string TestChunkId(char fill, uint8_t first, uint8_t last = 0) {
  std::string id(kChunkIdBytes, fill);
  id[0] = static_cast<char>(first);
  id[kChunkIdBytes - 1] = static_cast<char>(last);
  return id;
}

// `n` random bytes (a test failure if the system's generator fails).
inline std::string RandomData(size_t n) {
  absl::StatusOr<std::string> bytes = RandomBytes(n);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string(n, '\0');
}

}  // namespace medvault::chunkserver::testing
