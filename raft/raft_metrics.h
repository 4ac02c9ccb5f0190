// Prometheus metrics of one Raft replica, named medvault_<service>_raft_*: term, role, commit and
// applied index, apply lag, leader changes, and election, persist (fsync) and commit latencies.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "raft/node.h"

namespace medvault::raft {

struct RaftMetrics {
  RaftMetrics(prometheus::Registry& registry, const std::string& service);

  // Callbacks that feed these metrics (and chain to `next`, if set, for on_status).
  NodeObserver Observer(std::function<void(const NodeStatus&)> next = nullptr);

  prometheus::Gauge& term;
  prometheus::Gauge& is_leader;
  prometheus::Gauge& commit_index;
  prometheus::Gauge& applied_index;
  prometheus::Gauge& apply_lag;
  prometheus::Gauge& leader_changes;
  prometheus::Counter& lease_reads;
  prometheus::Counter& read_index_reads;
  prometheus::Histogram& election_latency;
  prometheus::Histogram& persist_latency;
  prometheus::Histogram& commit_latency;
};

}  // namespace medvault::raft
