// Reclaims chunk replicas nothing needs any more: those of deleted objects whose data keys are
// confirmed destroyed (tombstones), and orphans -- chunks on a server that no manifest or tombstone
// references (failed uploads), once older than a grace period that protects uploads in flight.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/clients.h"
#include "metaserver/core/registry.h"

namespace medvault::metaserver {

struct GcStats {
  // Chunk replicas deleted because their object was deleted.
  uint64_t deleted_chunks_reclaimed = 0;
  // Chunk replicas deleted because nothing referenced them.
  uint64_t orphans_reclaimed = 0;
  // Tombstones left after the pass (key not destroyed yet, or a replica's server unreachable).
  uint64_t tombstones_pending = 0;
};

struct GcOptions {
  // Chunk ids per DeleteChunks call.
  size_t delete_batch = 1000;
  // Chunk ids per ListChunks page.
  uint32_t list_page = 10000;
  // Tombstones handled per pass (the rest wait for the next pass).
  size_t max_tombstones_per_pass = 10000;
};

// Thread-safe; passes are serialised (a pass requested while one runs waits for it).
// The shortest orphan grace period accepted. A chunk is written before its manifest commits, so
// the grace must exceed the longest write phase of a put (the frontend refuses to commit a put
// whose chunk writes took longer than its --max_write_seconds, 300 s by default). Only tests lower
// it (metaserver --testing_min_orphan_grace_s).
inline constexpr uint64_t kMinOrphanGraceSeconds = 600;

class GarbageCollector {
 public:
  // All pointers must outlive the collector.
  GarbageCollector(Catalog* catalog, ChunkServerRegistry* registry, ChunkServerClient* client,
                   Clock* clock, GcOptions options = GcOptions());

  // One pass:
  //  (a) for each tombstone whose key is destroyed, deletes its chunk replicas (batched per server)
  //      and removes the tombstone once every replica's server acknowledged or is no longer
  //      registered; a down or failing server leaves the tombstone for a later pass;
  //  (b) on every up server, deletes chunks that nothing references and that are at least
  //      `orphan_grace_seconds` old. Referenced chunks are never deleted.
  // Errors talking to one server are logged and skipped; the error is returned only when the
  // catalog cannot be read or written.
  absl::StatusOr<GcStats> RunOnce(uint64_t orphan_grace_seconds) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status ReclaimTombstones(GcStats* stats);
  absl::Status ReclaimOrphans(uint64_t orphan_grace_seconds, GcStats* stats);
  // Deletes `ids` on one server in batches; false (logged) on the first failure.
  bool DeleteOnServer(const std::string& server_id, const std::string& address,
                      const std::vector<std::string>& ids);

  Catalog* const catalog_;
  ChunkServerRegistry* const registry_;
  ChunkServerClient* const client_;
  Clock* const clock_;
  const GcOptions options_;
  absl::Mutex mu_;  // held for a whole pass
};

}  // namespace medvault::metaserver
