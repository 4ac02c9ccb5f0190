#include "metaserver/service/meta_metrics.h"

#include "common/metrics.h"

namespace medvault::metaserver {

MetaMetrics::MetaMetrics(prometheus::Registry& r)
    : commits(NewCounter(r, "medvault_metaserver_commits_total",
                         "Instances committed (re-sends of an identical stored instance excluded).")),
      commit_latency(NewLatencyHistogram(r, "medvault_metaserver_commit_latency_seconds",
                                         "Latency of CommitInstance, including the synchronous write.")),
      find_latency(NewLatencyHistogram(r, "medvault_metaserver_find_latency_seconds",
                                       "Latency of FindStudies.")),
      chunkservers_up(NewGauge(r, "medvault_metaserver_chunkservers_up",
                               "Registered chunk servers whose last heartbeat is recent.")),
      chunkservers_down(NewGauge(r, "medvault_metaserver_chunkservers_down",
                                 "Registered chunk servers silent for longer than the down interval.")),
      gc_chunks_reclaimed(NewCounter(r, "medvault_metaserver_gc_chunks_reclaimed_total",
                                     "Chunk replicas of deleted objects deleted by garbage collection.")),
      gc_orphans_reclaimed(NewCounter(r, "medvault_metaserver_gc_orphans_reclaimed_total",
                                      "Unreferenced chunk replicas deleted by garbage collection.")),
      tombstones_pending(NewGauge(r, "medvault_metaserver_tombstones_pending",
                                  "Deleted objects whose key destruction or chunk reclamation is pending.")),
      // Placeholder: stays 0 until the re-replication issue computes it from manifests and the
      // registry (chunks with fewer live replicas than placed).
      chunks_under_replicated(NewGauge(r, "medvault_metaserver_chunks_under_replicated",
                                       "Chunks with fewer replicas on up servers than placed (not computed yet: 0).")),
      request_errors(NewCounter(r, "medvault_metaserver_request_errors_total",
                                "MetaService requests that returned an error.")) {}

void MetaMetrics::RecordGc(const GcStats& stats) {
  gc_chunks_reclaimed.Increment(static_cast<double>(stats.deleted_chunks_reclaimed));
  gc_orphans_reclaimed.Increment(static_cast<double>(stats.orphans_reclaimed));
  tombstones_pending.Set(static_cast<double>(stats.tombstones_pending));
}

void MetaMetrics::RefreshServers(const ChunkServerRegistry& registry) {
  const ChunkServerRegistry::Counts counts = registry.CountUpDown();
  chunkservers_up.Set(static_cast<double>(counts.up));
  chunkservers_down.Set(static_cast<double>(counts.down));
}

void MetaMetrics::RefreshTombstones(const Catalog& catalog) {
  absl::StatusOr<uint64_t> pending = catalog.CountTombstones();
  if (pending.ok()) tombstones_pending.Set(static_cast<double>(*pending));
}

}  // namespace medvault::metaserver
