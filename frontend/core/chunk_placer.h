// Where a put's chunks go, and where the chunk servers are: placement through the metaserver, and
// a memory of every server address a placement or a lookup has named. The put path places with it;
// the read path fills in addresses a lookup lacks (a metaserver that has just taken over may not
// know them yet, and a read should try every replica rather than fail).
//
// Small puts can place from a lease (off unless configured): placements fetched ahead, many per
// AllocateChunks, handed out once each and used only while young (docs/architecture.md, "Store",
// step 2). A placement is a random 128-bit chunk id from the metaserver's CSPRNG and the servers
// to write it to; the metaserver keeps no state for it, so a lease needs no renewal, and dropping
// one (expiry, a failed server, a restart) loses nothing but ids nobody wrote.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "frontend/core/clients.h"

namespace medvault::frontend {

// How many placements a frontend leases ahead and for how long it uses them.
struct PlacementLease {
  // Placements fetched per refill; 0: no lease, every put asks the metaserver.
  uint32_t chunks = 0;
  // A leased placement older than this is dropped unused: the servers it names were up when it
  // was made, and the metaserver declares a silent server down within ~10 s.
  int64_t max_age_micros = 2'000'000;
};

// Thread-safe.
class ChunkPlacer {
 public:
  // `meta` and `clock` must outlive the placer. Every placement asks for `replicas` servers per
  // chunk.
  ChunkPlacer(MetaClient* meta, uint32_t replicas, Clock* clock, PlacementLease lease = {})
      : meta_(meta), replicas_(replicas), clock_(clock), lease_(lease) {}

  // AllocateChunks through the metaserver, never on a server of `exclude`; the placed servers'
  // addresses are remembered. `sop_instance_uid`, when set, asks whether it is already stored.
  absl::StatusOr<v1::AllocateChunksResponse> Place(uint32_t chunk_count,
                                                   const std::string& sop_instance_uid,
                                                   const std::vector<std::string>& exclude)
      ABSL_LOCKS_EXCLUDED(mu_);

  // `chunk_count` placements, from the lease when it is on and the count is small (at most a
  // quarter of a refill), else through Place without a hint. Each leased placement is handed out
  // once, and never once it is older than the lease's max age.
  absl::StatusOr<v1::AllocateChunksResponse> Take(uint32_t chunk_count) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops every leased placement: a put's chunk write just failed on a server they may name.
  void DropLease() ABSL_LOCKS_EXCLUDED(mu_);

  // True when Take may serve `chunk_count` placements from a lease.
  bool Leases(uint32_t chunk_count) const {
    return lease_.chunks > 0 && chunk_count <= lease_.chunks / 4;
  }

  // Remembers the lookup's server addresses and adds the remembered ones of the manifest's
  // servers it does not name.
  void FillAddresses(v1::GetInstanceMetaResponse* meta) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Leased {
    v1::ChunkPlacement placement;
    int64_t placed_micros;
  };
  // Pops up to `count` young placements into `out`, dropping the old ones met on the way.
  void TakeLeased(uint32_t count, v1::AllocateChunksResponse* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MetaClient* const meta_;
  const uint32_t replicas_;
  Clock* const clock_;
  const PlacementLease lease_;
  absl::Mutex mu_;
  // Chunk-server addresses by server id (a handful of servers).
  std::map<std::string, std::string> known_addresses_ ABSL_GUARDED_BY(mu_);
  // Leased placements not yet handed out, oldest first.
  std::deque<Leased> leased_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::frontend
