#include "metaserver/service/meta_metrics.h"

#include "common/metrics.h"

namespace medvault::metaserver {

MetaMetrics::MetaMetrics(prometheus::Registry& r)
    : commits(
          NewCounter(r, "medvault_metaserver_commits_total",
                     "Instances committed (re-sends of an identical stored instance excluded).")),
      commit_latency(
          NewLatencyHistogram(r, "medvault_metaserver_commit_latency_seconds",
                              "Latency of CommitInstance, including the synchronous write.")),
      commit_group_size(
          prometheus::BuildHistogram()
              .Name("medvault_metaserver_commit_group_size")
              .Help("Commits sharing one replicated write (group commit).")
              .Register(r)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
      find_latency(NewLatencyHistogram(r, "medvault_metaserver_find_latency_seconds",
                                       "Latency of FindStudies.")),
      chunkservers_up(NewGauge(r, "medvault_metaserver_chunkservers_up",
                               "Registered chunk servers whose last heartbeat is recent.")),
      chunkservers_down(
          NewGauge(r, "medvault_metaserver_chunkservers_down",
                   "Registered chunk servers silent for longer than the down interval.")),
      gc_chunks_reclaimed(
          NewCounter(r, "medvault_metaserver_gc_chunks_reclaimed_total",
                     "Chunk replicas of deleted objects deleted by garbage collection.")),
      gc_orphans_reclaimed(
          NewCounter(r, "medvault_metaserver_gc_orphans_reclaimed_total",
                     "Unreferenced chunk replicas deleted by garbage collection.")),
      tombstones_pending(
          NewGauge(r, "medvault_metaserver_tombstones_pending",
                   "Deleted objects whose key destruction or chunk reclamation is pending.")),
      chunks_under_replicated(
          NewGauge(r, "medvault_metaserver_chunks_under_replicated",
                   "Chunks with fewer good replicas than the target, as of the last repair "
                   "pass's census (replicas on down or draining servers, missing or corrupt "
                   "ones do not count).")),
      chunks_unavailable(
          NewGauge(r, "medvault_metaserver_chunks_unavailable",
                   "Chunks with no good replica on an up server at the last census.")),
      repair_queue_length(
          NewGauge(r, "medvault_metaserver_repair_queue_length",
                   "Under-replicated chunks the running (or last) repair pass has yet to fix.")),
      repair_bytes(NewCounter(r, "medvault_metaserver_repair_bytes_total",
                              "Bytes copied to new replicas by repair.")),
      chunks_repaired(NewCounter(r, "medvault_metaserver_chunks_repaired_total",
                                 "Chunks given at least one new replica by repair.")),
      repair_passes(
          NewCounter(r, "medvault_metaserver_repair_passes_total", "Repair passes completed.")),
      extra_replicas_dropped(
          NewCounter(r, "medvault_metaserver_extra_replicas_dropped_total",
                     "Replicas deleted because no manifest lists them on their server.")),
      bad_replicas_found(
          NewCounter(r, "medvault_metaserver_bad_replicas_found_total",
                     "Replicas found missing or corrupt on an up server by the repair census.")),
      corrupt_replicas_reported(
          NewCounter(r, "medvault_metaserver_corrupt_replicas_reported_total",
                     "Bad replicas reported by chunk servers (scrub, reads) and readers.")),
      request_errors(NewCounter(r, "medvault_metaserver_request_errors_total",
                                "MetaService requests that returned an error.")),
      allocate_chunks_requests(
          NewCounter(r, "medvault_metaserver_allocate_chunks_requests_total",
                     "AllocateChunks calls received, answered or refused (a follower's "
                     "redirect included).")),
      purge_pending(NewGauge(r, "medvault_metaserver_purge_pending",
                             "Deleted index entries (PHI) whose values may still be in this "
                             "replica's Raft log, write-ahead log or database files.")),
      purged_keys(NewCounter(r, "medvault_metaserver_purged_keys_total",
                             "Deleted index entries whose old values were purged from this "
                             "replica's Raft log, write-ahead log and database files.")),
      purge_passes(
          NewCounter(r, "medvault_metaserver_purge_passes_total",
                     "Purge passes completed (log compacted, flushed, ranges compacted).")),
      purge_errors(NewCounter(r, "medvault_metaserver_purge_errors_total",
                              "Purge passes that failed (retried at the next interval).")),
      purged_through_index(
          NewGauge(r, "medvault_metaserver_purged_through_index",
                   "Raft log index through which every deleted index entry is purged from this "
                   "replica's disk (Raft log, write-ahead log, database files).")),
      scrubs_started(NewCounter(r, "medvault_metaserver_scrubs_started_total",
                                "Chunk-server scrub passes started on demand (medvault scrub "
                                "start).")),
      retention_deletions(NewCounter(r, "medvault_metaserver_retention_deletions_total",
                                     "Studies deleted by their retention rule (keys destroyed).")),
      retention_failures(NewCounter(r, "medvault_metaserver_retention_failures_total",
                                    "Retention deletions that failed (retried next pass).")),
      retention_due(NewGauge(r, "medvault_metaserver_retention_due",
                             "Studies whose retention rule was due at the last pass (held "
                             "ones included).")),
      retention_blocked(NewGauge(r, "medvault_metaserver_retention_blocked_by_hold",
                                 "Due studies a legal hold kept at the last pass.")),
      studies_held(NewGauge(r, "medvault_metaserver_studies_held",
                            "Studies under legal hold at the last retention pass.")) {}

void MetaMetrics::RecordRetention(const RetentionStats& stats) {
  if (!stats.led) return;
  retention_deletions.Increment(static_cast<double>(stats.deleted));
  retention_failures.Increment(static_cast<double>(stats.failed));
  retention_due.Set(static_cast<double>(stats.due));
  retention_blocked.Set(static_cast<double>(stats.blocked_by_hold));
  studies_held.Set(static_cast<double>(stats.held));
}

void MetaMetrics::RecordGc(const GcStats& stats) {
  gc_chunks_reclaimed.Increment(static_cast<double>(stats.deleted_chunks_reclaimed));
  gc_orphans_reclaimed.Increment(static_cast<double>(stats.orphans_reclaimed));
  tombstones_pending.Set(static_cast<double>(stats.tombstones_pending));
}

void MetaMetrics::RecordRepair(const RepairStats& stats) {
  chunks_under_replicated.Set(static_cast<double>(stats.still_under_replicated));
  chunks_unavailable.Set(static_cast<double>(stats.unavailable));
  chunks_repaired.Increment(static_cast<double>(stats.repaired));
  extra_replicas_dropped.Increment(static_cast<double>(stats.extra_replicas_dropped));
  bad_replicas_found.Increment(static_cast<double>(stats.bad_replicas));
  repair_passes.Increment();
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

void MetaMetrics::RecordPurge(const KvShredder& purger, const absl::Status& result,
                              uint64_t applied) {
  if (result.ok()) {
    purged_through_index.Set(static_cast<double>(applied));
  } else {
    purge_errors.Increment();
  }
  const uint64_t purged = purger.shredded();
  const uint64_t passes = purger.passes();
  purged_keys.Increment(static_cast<double>(purged - purged_seen));
  purge_passes.Increment(static_cast<double>(passes - passes_seen));
  purged_seen = purged;
  passes_seen = passes;
  purge_pending.Set(static_cast<double>(purger.pending()));
}

}  // namespace medvault::metaserver
