// Where a put's chunks go, and where the chunk servers are: placement through the metaserver, and
// a memory of every server address a placement or a lookup has named. The put path places with it;
// the read path fills in addresses a lookup lacks (a metaserver that has just taken over may not
// know them yet, and a read should try every replica rather than fail).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "frontend/core/clients.h"

namespace medvault::frontend {

// Thread-safe.
class ChunkPlacer {
 public:
  // `meta` must outlive the placer. Every placement asks for `replicas` servers per chunk.
  ChunkPlacer(MetaClient* meta, uint32_t replicas) : meta_(meta), replicas_(replicas) {}

  // AllocateChunks through the metaserver, never on a server of `exclude`; the placed servers'
  // addresses are remembered. `sop_instance_uid`, when set, asks whether it is already stored.
  absl::StatusOr<v1::AllocateChunksResponse> Place(uint32_t chunk_count,
                                                   const std::string& sop_instance_uid,
                                                   const std::vector<std::string>& exclude)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Remembers the lookup's server addresses and adds the remembered ones of the manifest's
  // servers it does not name.
  void FillAddresses(v1::GetInstanceMetaResponse* meta) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  MetaClient* const meta_;
  const uint32_t replicas_;
  absl::Mutex mu_;
  // Chunk-server addresses by server id (a handful of servers).
  std::map<std::string, std::string> known_addresses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::frontend
