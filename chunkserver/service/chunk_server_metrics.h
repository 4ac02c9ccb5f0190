// The chunk server's Prometheus metrics, registered once and shared by the ChunkService handlers
// and the heartbeat client.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace medvault::chunkserver {

struct ChunkServerMetrics {
  // Registers every metric in `registry`, which must outlive this object.
  explicit ChunkServerMetrics(prometheus::Registry& registry);

  prometheus::Counter& writes;             // chunks written (including idempotent rewrites)
  prometheus::Counter& write_bytes;        // payload bytes written
  prometheus::Counter& reads;              // chunks read and verified
  prometheus::Counter& read_bytes;         // payload bytes read
  prometheus::Counter& checksum_failures;  // DATA_LOSS on receive or on disk
  prometheus::Counter& request_errors;     // any RPC answered with an error
  prometheus::Histogram& write_latency;    // WriteChunk, successful or not
  prometheus::Gauge& chunks_stored;
  prometheus::Gauge& disk_free_bytes;         // updated by every heartbeat
  prometheus::Gauge& disk_capacity_bytes;     // updated by every heartbeat
  prometheus::Counter& scrub_chunks;          // chunks re-verified by the scrubber
  prometheus::Counter& scrub_bytes;           // bytes re-verified by the scrubber
  prometheus::Counter& scrub_corrupt;         // corrupt chunks the scrubber found (and quarantined)
  prometheus::Counter& scrub_passes;          // complete scrub passes
  prometheus::Gauge& scrub_pass_progress;     // fraction of the current pass done, 0..1
  prometheus::Counter& scrub_requests;        // passes started on demand (StartScrub)
  prometheus::Counter& quarantined_reported;  // quarantined chunk ids sent in heartbeats
};

}  // namespace medvault::chunkserver
