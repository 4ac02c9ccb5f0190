// Brings every stored chunk back to its replica target without anyone acting. One pass (on the
// Raft leader only) takes a census -- every manifest, and the chunk ids every up chunk server
// holds -- and then, fewest good replicas first, copies each under-replicated chunk from a good
// replica to servers chosen like placement (distinct failure domains, not draining, with space):
// the metaserver reads the ciphertext from one chunk server and writes it to another (chunk
// servers never call each other; no key is involved). The manifest is then updated with a
// compare-and-set. Replicas that are missing, corrupt (reported and verified) or on down or
// draining servers do not count; copies a server holds that its manifest does not list (a server
// back from the dead, a repair whose commit was lost) are dropped once the chunk is whole.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/clients.h"
#include "metaserver/core/registry.h"

namespace medvault::metaserver {

struct RepairOptions {
  // Replica target per chunk.
  uint32_t replicas = 3;
  // Repair copy rate limit in bytes per second (bytes written to targets); 0: unlimited.
  uint64_t max_bytes_per_second = 0;
  // Chunks copied concurrently.
  int parallelism = 4;
  // Chunk ids per ListChunks page in the census.
  uint32_t list_page = 10000;
  // Sleeps the calling thread (throttling); default: the real clock's sleep.
  std::function<void(int64_t micros)> sleep;
};

// What one pass found and did. Counts are of chunks unless named otherwise.
struct RepairStats {
  uint64_t chunks = 0;                  // chunks in stored manifests
  uint64_t under_replicated = 0;        // below the target at the census
  uint64_t repaired = 0;                // given at least one new replica
  uint64_t still_under_replicated = 0;  // below the target after the pass (the queue left)
  uint64_t unavailable = 0;             // no good replica found (cannot be repaired now)
  uint64_t replicas_written = 0;
  uint64_t repair_bytes = 0;            // bytes written to repair targets
  uint64_t extra_replicas_dropped = 0;  // unlisted copies deleted
  uint64_t bad_replicas = 0;            // replicas found corrupt or missing on an up server
  std::vector<std::string> drained;     // draining servers no manifest lists any more
};

// Thread-safe; passes are serialised.
class Repairer {
 public:
  // Live progress of a pass, for gauges: chunks still queued, bytes just written, and whether this
  // is the census's result (queue_length is then the count of under-replicated chunks).
  using ProgressFn =
      std::function<void(uint64_t queue_length, uint64_t bytes_written_delta, bool census)>;

  // All pointers must outlive the repairer.
  Repairer(Catalog* catalog, ChunkServerRegistry* registry, ChunkServerClient* client, Clock* clock,
           RepairOptions options, ProgressFn progress = nullptr);

  // One census and repair pass (see the header comment). Errors talking to one chunk server are
  // logged and skipped; an error is returned only when the catalog cannot be read.
  absl::StatusOr<RepairStats> RunOnce() ABSL_LOCKS_EXCLUDED(pass_mu_);

  // A reader or a chunk server says this replica is bad; the next pass verifies it (reads it and
  // checks length and CRC32C against the manifest) and replaces it if it is.
  void ReportSuspect(const std::string& chunk_id, const std::string& server_id)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One chunk below its target, as the census saw it.
  struct Work {
    std::string object_id;
    uint32_t index = 0;
    v1::ChunkLocation chunk;        // as in the manifest snapshot
    std::vector<std::string> good;  // listed servers whose replica counts
    std::vector<std::string>
        fallback;  // listed replicas that may still be good (server down or draining)
  };
  struct Census;

  // Lists every up server's chunk ids and walks every manifest.
  absl::Status TakeCensus(Census* census, RepairStats* stats);
  // Copies one chunk to new servers and records them; false when nothing changed.
  bool Repair(const Work& work, const Census& census, RepairStats* stats) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads `chunk` from `address` and checks it against the manifest.
  absl::StatusOr<ChunkBytes> ReadVerified(const std::string& address,
                                          const v1::ChunkLocation& chunk);
  // Blocks until `bytes` more may be written under the rate limit.
  void Throttle(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  Catalog* const catalog_;
  ChunkServerRegistry* const registry_;
  ChunkServerClient* const client_;
  Clock* const clock_;
  const RepairOptions options_;
  const ProgressFn progress_;

  absl::Mutex pass_mu_;  // held for a whole pass
  absl::Mutex mu_;
  std::set<std::pair<std::string, std::string>> suspects_ ABSL_GUARDED_BY(mu_);  // (server, chunk)
  int64_t next_write_micros_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queue_length_ ABSL_GUARDED_BY(mu_) = 0;
  // (server, chunk) replicas written by the current pass.
  std::set<std::pair<std::string, std::string>> rewritten_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::metaserver
