// What the metaserver core needs from chunk servers (garbage collection): delete chunks and list
// them. The gRPC implementation lives in service/chunk_server_client.h; tests use a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::metaserver {

struct ChunkListEntry {
  std::string chunk_id;
  uint64_t size = 0;
  // Seconds since the chunk was written, by the chunk server's clock.
  uint64_t age_seconds = 0;
};

struct ChunkListPage {
  // Ascending chunk ids.
  std::vector<ChunkListEntry> chunks;
  // True when more ids follow the last one returned.
  bool more = false;
};

// Implementations are thread-safe.
class ChunkServerClient {
 public:
  virtual ~ChunkServerClient() = default;
  // Deletes these chunks on the server at `address`; absent ids are not an error.
  virtual absl::Status DeleteChunks(const std::string& address, const std::vector<std::string>& chunk_ids) = 0;
  // Up to `limit` chunks with ids strictly greater than `start_after` (empty: from the start).
  virtual absl::StatusOr<ChunkListPage> ListChunks(const std::string& address, absl::string_view start_after,
                                                   uint32_t limit) = 0;
};

}  // namespace medvault::metaserver
