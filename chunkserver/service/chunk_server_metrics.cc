#include "chunkserver/service/chunk_server_metrics.h"

#include "common/metrics.h"

namespace medvault::chunkserver {

ChunkServerMetrics::ChunkServerMetrics(prometheus::Registry& r)
    : writes(NewCounter(r, "medvault_chunkserver_writes_total", "Chunks written")),
      write_bytes(NewCounter(r, "medvault_chunkserver_write_bytes_total", "Chunk bytes written")),
      reads(NewCounter(r, "medvault_chunkserver_reads_total", "Chunks read and verified")),
      read_bytes(NewCounter(r, "medvault_chunkserver_read_bytes_total", "Chunk bytes read")),
      checksum_failures(NewCounter(r, "medvault_chunkserver_checksum_failures_total",
                                   "CRC32C mismatches: chunks received or found corrupt on disk")),
      request_errors(NewCounter(r, "medvault_chunkserver_request_errors_total",
                                "ChunkService calls answered with an error")),
      write_latency(NewLatencyHistogram(r, "medvault_chunkserver_write_latency_seconds",
                                        "WriteChunk latency including fsync")),
      chunks_stored(NewGauge(r, "medvault_chunkserver_chunks_stored", "Chunks stored")),
      disk_free_bytes(NewGauge(
          r, "medvault_chunkserver_disk_free_bytes",
          "Free bytes for chunks: the data directory's filesystem, or the quota when lower")),
      disk_capacity_bytes(NewGauge(
          r, "medvault_chunkserver_disk_capacity_bytes",
          "Bytes for chunks in all: the data directory's filesystem size, or the quota when set")),
      scrub_chunks(NewCounter(r, "medvault_chunkserver_scrub_chunks_total",
                              "Chunks re-verified by the scrubber")),
      scrub_bytes(NewCounter(r, "medvault_chunkserver_scrub_bytes_total",
                             "Bytes re-verified by the scrubber")),
      scrub_corrupt(NewCounter(r, "medvault_chunkserver_scrub_corrupt_chunks_total",
                               "Corrupt chunks found (and quarantined) by the scrubber")),
      scrub_passes(
          NewCounter(r, "medvault_chunkserver_scrub_passes_total", "Complete scrub passes")),
      scrub_pass_progress(NewGauge(r, "medvault_chunkserver_scrub_pass_progress_ratio",
                                   "Fraction of the current scrub pass done, 0 to 1")),
      scrub_requests(NewCounter(r, "medvault_chunkserver_scrub_requests_total",
                                "Scrub passes started on demand (medvault scrub start)")),
      quarantined_reported(
          NewCounter(r, "medvault_chunkserver_quarantined_reported_total",
                     "Quarantined chunk ids reported to the metaserver in heartbeats")) {}

}  // namespace medvault::chunkserver
