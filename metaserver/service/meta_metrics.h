// The metaserver's Prometheus metrics, shared by the gRPC service and the background tasks.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "common/kv_shredder.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/garbage_collector.h"
#include "metaserver/core/registry.h"
#include "metaserver/core/repairer.h"
#include "metaserver/core/retention_enforcer.h"

namespace medvault::metaserver {

struct MetaMetrics {
  explicit MetaMetrics(prometheus::Registry& registry);

  // Adds one GC pass's results.
  void RecordGc(const GcStats& stats);
  // Sets the up/down gauges from the registry.
  void RefreshServers(const ChunkServerRegistry& registry);
  // Adds one repair pass's results and sets the under-replicated gauge.
  void RecordRepair(const RepairStats& stats);
  // Sets the tombstone gauge from the catalog (errors ignored: the gauge keeps its last value).
  void RefreshTombstones(const Catalog& catalog);
  // Records one purge of deleted index entries (`result` of KvShredder::ShredPending, started when
  // every deletion through Raft index `applied` had been noted).
  void RecordPurge(const KvShredder& purger, const absl::Status& result, uint64_t applied);
  // Adds one retention pass's results (a follower's pass changes nothing).
  void RecordRetention(const RetentionStats& stats);

  prometheus::Counter& commits;
  prometheus::Histogram& commit_latency;
  prometheus::Histogram& commit_group_size;
  prometheus::Histogram& find_latency;
  prometheus::Gauge& chunkservers_up;
  prometheus::Gauge& chunkservers_down;
  prometheus::Counter& gc_chunks_reclaimed;
  prometheus::Counter& gc_orphans_reclaimed;
  prometheus::Gauge& tombstones_pending;
  prometheus::Gauge& chunks_under_replicated;
  prometheus::Gauge& chunks_unavailable;
  prometheus::Gauge& repair_queue_length;
  prometheus::Counter& repair_bytes;
  prometheus::Counter& chunks_repaired;
  prometheus::Counter& repair_passes;
  prometheus::Counter& extra_replicas_dropped;
  prometheus::Counter& bad_replicas_found;
  prometheus::Counter& corrupt_replicas_reported;
  prometheus::Counter& request_errors;
  prometheus::Counter& allocate_chunks_requests;
  prometheus::Gauge& purge_pending;
  prometheus::Counter& purged_keys;
  prometheus::Counter& purge_passes;
  prometheus::Counter& purge_errors;
  prometheus::Gauge& purged_through_index;
  prometheus::Counter& scrubs_started;
  prometheus::Counter& retention_deletions;
  prometheus::Counter& retention_failures;
  prometheus::Gauge& retention_due;
  prometheus::Gauge& retention_blocked;
  prometheus::Gauge& studies_held;
  uint64_t purged_seen = 0;  // purger.shredded() at the last RecordPurge
  uint64_t passes_seen = 0;
};

}  // namespace medvault::metaserver
