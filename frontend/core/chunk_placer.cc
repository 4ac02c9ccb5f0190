#include "frontend/core/chunk_placer.h"

#include "common/status_macros.h"

namespace medvault::frontend {

absl::StatusOr<v1::AllocateChunksResponse> ChunkPlacer::Place(
    uint32_t chunk_count, const std::string& sop_instance_uid,
    const std::vector<std::string>& exclude) {
  ASSIGN_OR_RETURN(v1::AllocateChunksResponse placed,
                   meta_->AllocateChunks(chunk_count, replicas_, sop_instance_uid, exclude));
  absl::MutexLock lock(&mu_);
  for (const v1::ChunkPlacement& p : placed.chunks()) {
    for (const v1::ChunkServerInfo& server : p.servers())
      known_addresses_[server.server_id()] = server.address();
  }
  return placed;
}

void ChunkPlacer::FillAddresses(v1::GetInstanceMetaResponse* meta) {
  auto& addresses = *meta->mutable_server_addresses();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, address] : addresses) known_addresses_[id] = address;
  for (const v1::ChunkLocation& chunk : meta->manifest().chunks()) {
    for (const std::string& id : chunk.server_ids()) {
      if (addresses.count(id) > 0) continue;
      auto known = known_addresses_.find(id);
      if (known != known_addresses_.end()) addresses[id] = known->second;
    }
  }
}

}  // namespace medvault::frontend
