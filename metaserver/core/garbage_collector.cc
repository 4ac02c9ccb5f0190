#include "metaserver/core/garbage_collector.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::metaserver {

GarbageCollector::GarbageCollector(Catalog* catalog, ChunkServerRegistry* registry,
                                   ChunkServerClient* client, Clock* clock, GcOptions options)
    : catalog_(catalog), registry_(registry), client_(client), clock_(clock), options_(options) {}

absl::StatusOr<GcStats> GarbageCollector::RunOnce(uint64_t orphan_grace_seconds) {
  absl::MutexLock lock(&mu_);
  const int64_t start = clock_->NowMicros();
  GcStats stats;
  RETURN_IF_ERROR(ReclaimTombstones(&stats));
  RETURN_IF_ERROR(ReclaimOrphans(orphan_grace_seconds, &stats));
  ASSIGN_OR_RETURN(stats.tombstones_pending, catalog_->CountTombstones());
  if (stats.deleted_chunks_reclaimed > 0 || stats.orphans_reclaimed > 0) {
    MV_LOG(INFO) << "gc: reclaimed " << stats.deleted_chunks_reclaimed << " deleted and "
                 << stats.orphans_reclaimed << " orphan chunk replicas in "
                 << (clock_->NowMicros() - start) / 1000 << " ms; " << stats.tombstones_pending
                 << " tombstones pending";
  }
  return stats;
}

bool GarbageCollector::DeleteOnServer(const std::string& server_id, const std::string& address,
                                      const std::vector<std::string>& ids) {
  for (size_t i = 0; i < ids.size(); i += options_.delete_batch) {
    const size_t end = std::min(ids.size(), i + options_.delete_batch);
    std::vector<std::string> batch(ids.begin() + i, ids.begin() + end);
    absl::Status s = client_->DeleteChunks(address, batch);
    if (!s.ok()) {
      MV_LOG(WARNING) << "gc: deleting " << batch.size() << " chunks on server " << server_id
                      << " failed: " << s;
      return false;
    }
  }
  return true;
}

absl::Status GarbageCollector::ReclaimTombstones(GcStats* stats) {
  ASSIGN_OR_RETURN(std::vector<TombstoneEntry> tombstones,
                   catalog_->ListDestroyedTombstones(options_.max_tombstones_per_pass));
  if (tombstones.empty()) return absl::OkStatus();

  // Registry state is read once per pass so all tombstones see the same servers.
  std::map<std::string, std::optional<v1::ChunkServerStatus>> servers;
  auto lookup = [&](const std::string& id) -> const std::optional<v1::ChunkServerStatus>& {
    auto it = servers.find(id);
    if (it == servers.end()) it = servers.emplace(id, registry_->Find(id)).first;
    return it->second;
  };

  std::map<std::string, std::set<std::string>> per_server;       // server id -> chunk ids
  std::vector<std::set<std::string>> needed(tombstones.size());  // servers that must acknowledge
  std::vector<bool> blocked(tombstones.size(), false);           // a replica's server is down
  for (size_t t = 0; t < tombstones.size(); ++t) {
    for (const v1::ChunkLocation& chunk : tombstones[t].tombstone.manifest().chunks()) {
      for (const std::string& server_id : chunk.server_ids()) {
        const std::optional<v1::ChunkServerStatus>& server = lookup(server_id);
        if (!server.has_value()) continue;  // no longer registered: nothing left to delete
        if (!server->up()) {
          blocked[t] = true;
          continue;
        }
        per_server[server_id].insert(chunk.chunk_id());
        needed[t].insert(server_id);
      }
    }
  }

  std::set<std::string> acknowledged;
  for (const auto& [server_id, ids] : per_server) {
    const std::vector<std::string> list(ids.begin(), ids.end());
    if (DeleteOnServer(server_id, lookup(server_id)->server().address(), list)) {
      acknowledged.insert(server_id);
      stats->deleted_chunks_reclaimed += list.size();
    }
  }

  for (size_t t = 0; t < tombstones.size(); ++t) {
    if (blocked[t]) continue;
    bool done = true;
    for (const std::string& server_id : needed[t]) done = done && acknowledged.count(server_id) > 0;
    if (!done) continue;
    RETURN_IF_ERROR(catalog_->RemoveTombstone(tombstones[t].object_id));
  }
  return absl::OkStatus();
}

absl::Status GarbageCollector::ReclaimOrphans(uint64_t orphan_grace_seconds, GcStats* stats) {
  for (const v1::ChunkServerStatus& server : registry_->List()) {
    if (!server.up()) continue;
    const std::string& server_id = server.server().server_id();
    const std::string& address = server.server().address();
    std::string start_after;
    while (true) {
      absl::StatusOr<ChunkListPage> page =
          client_->ListChunks(address, start_after, options_.list_page);
      if (!page.ok()) {
        MV_LOG(WARNING) << "gc: listing chunks on server " << server_id
                        << " failed: " << page.status();
        break;
      }
      std::vector<std::string> orphans;
      for (const ChunkListEntry& entry : page->chunks) {
        if (entry.age_seconds < orphan_grace_seconds) continue;
        ASSIGN_OR_RETURN(bool referenced, catalog_->IsChunkReferenced(entry.chunk_id));
        if (!referenced) orphans.push_back(entry.chunk_id);
      }
      if (!orphans.empty()) {
        if (!DeleteOnServer(server_id, address, orphans)) break;
        stats->orphans_reclaimed += orphans.size();
        MV_LOG(INFO) << "gc: deleted " << orphans.size() << " orphan chunks on server "
                     << server_id;
      }
      if (!page->more || page->chunks.empty()) break;
      start_after = page->chunks.back().chunk_id;
    }
  }
  return absl::OkStatus();
}

}  // namespace medvault::metaserver
