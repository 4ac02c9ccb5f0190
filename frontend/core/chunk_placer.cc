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

absl::StatusOr<v1::AllocateChunksResponse> ChunkPlacer::Take(uint32_t chunk_count) {
  if (!Leases(chunk_count)) return Place(chunk_count, "", {});
  v1::AllocateChunksResponse out;
  {
    absl::MutexLock lock(&mu_);
    TakeLeased(chunk_count, &out);
  }
  if (static_cast<uint32_t>(out.chunks_size()) == chunk_count) return out;
  // Refilled outside the lock; puts refilling at once each add a lease (ids are never shared).
  ASSIGN_OR_RETURN(v1::AllocateChunksResponse fresh, Place(lease_.chunks, "", {}));
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  for (v1::ChunkPlacement& p : *fresh.mutable_chunks())
    leased_.push_back(Leased{std::move(p), now});
  TakeLeased(chunk_count - static_cast<uint32_t>(out.chunks_size()), &out);
  if (static_cast<uint32_t>(out.chunks_size()) != chunk_count)
    return absl::InternalError("metaserver returned fewer placements than asked for");
  return out;
}

void ChunkPlacer::TakeLeased(uint32_t count, v1::AllocateChunksResponse* out) {
  const int64_t now = clock_->NowMicros();
  while (count > 0 && !leased_.empty()) {
    Leased next = std::move(leased_.front());
    leased_.pop_front();
    // Too old (or from before the clock stepped back): dropped, never handed out.
    if (now < next.placed_micros || now - next.placed_micros >= lease_.max_age_micros) continue;
    *out->add_chunks() = std::move(next.placement);
    --count;
  }
}

void ChunkPlacer::DropLease() {
  absl::MutexLock lock(&mu_);
  leased_.clear();
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
