// What the metaserver core needs from chunk servers: garbage collection deletes and lists chunks;
// repair lists them, reads a good replica and writes it to another server. The gRPC implementation
// lives in service/grpc_clients.h; tests use a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/chunkserver.pb.h"

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

struct ChunkBytes {
  std::string data;
  uint32_t crc32c = 0;
};

// Implementations are thread-safe.
class ChunkServerClient {
 public:
  virtual ~ChunkServerClient() = default;
  // Deletes these chunks on the server at `address`; absent ids are not an error.
  virtual absl::Status DeleteChunks(const std::string& address,
                                    const std::vector<std::string>& chunk_ids) = 0;
  // Up to `limit` chunks with ids strictly greater than `start_after` (empty: from the start).
  virtual absl::StatusOr<ChunkListPage> ListChunks(const std::string& address,
                                                   absl::string_view start_after,
                                                   uint32_t limit) = 0;
  // Reads one replica (verified by the server): NOT_FOUND, DATA_LOSS, UNAVAILABLE as the server
  // says.
  virtual absl::StatusOr<ChunkBytes> ReadChunk(const std::string& address,
                                               const std::string& chunk_id) = 0;
  // Writes one replica durably; RESOURCE_EXHAUSTED when the server's disk is full.
  virtual absl::Status WriteChunk(const std::string& address, const std::string& chunk_id,
                                  const std::string& data, uint32_t crc32c) = 0;
  // Starts a scrub pass now on the server; where its current or last pass stands. UNIMPLEMENTED
  // unless overridden (fakes that do not scrub).
  virtual absl::Status StartScrub(const std::string& /*address*/) {
    return absl::UnimplementedError("scrub not supported");
  }
  virtual absl::StatusOr<v1::ScrubStatus> GetScrubStatus(const std::string& /*address*/) {
    return absl::UnimplementedError("scrub not supported");
  }
};

// What the retention task needs from the key service: destroying the data keys of the objects it
// deleted (crypto-shredding), recorded in the key service's audit with the reason. Thread-safe.
class KeyShredder {
 public:
  virtual ~KeyShredder() = default;
  // Destroys these keys (destroying an absent one succeeds). `on_behalf_of` is who set the rule,
  // `purpose` why the study was deleted; both go to the audit record, and neither holds PHI.
  virtual absl::Status DestroyKeys(const std::vector<std::string>& object_ids,
                                   const std::string& on_behalf_of, const std::string& purpose) = 0;
};

}  // namespace medvault::metaserver
