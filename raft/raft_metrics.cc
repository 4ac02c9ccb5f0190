#include "raft/raft_metrics.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "common/metrics.h"

namespace medvault::raft {

RaftMetrics::RaftMetrics(prometheus::Registry& r, const std::string& s)
    : term(NewGauge(r, "medvault_" + s + "_raft_term", "Current Raft term of this replica.")),
      is_leader(NewGauge(r, "medvault_" + s + "_raft_is_leader",
                         "1 while this replica leads its group, else 0.")),
      commit_index(NewGauge(r, "medvault_" + s + "_raft_commit_index",
                            "Highest log index known committed.")),
      applied_index(
          NewGauge(r, "medvault_" + s + "_raft_applied_index", "Highest log index applied here.")),
      apply_lag(NewGauge(r, "medvault_" + s + "_raft_apply_lag",
                         "Committed entries not yet applied here.")),
      leader_changes(NewGauge(r, "medvault_" + s + "_raft_leader_changes",
                              "Times this replica saw a new leader since it started.")),
      lease_reads(NewCounter(r, "medvault_" + s + "_raft_lease_reads_total",
                             "Linearizable reads answered from the leader's lease.")),
      read_index_reads(NewCounter(r, "medvault_" + s + "_raft_read_index_reads_total",
                                  "Linearizable reads that took a round of heartbeats.")),
      election_latency(NewLatencyHistogram(r, "medvault_" + s + "_raft_election_seconds",
                                           "From losing the leader to knowing a new one.")),
      persist_latency(
          NewLatencyHistogram(r, "medvault_" + s + "_raft_append_persist_seconds",
                              "Durable (fsync'd) write of log entries and hard state.")),
      commit_latency(
          NewLatencyHistogram(r, "medvault_" + s + "_raft_commit_seconds",
                              "From proposing a command to applying it, on the leader.")) {}

NodeObserver RaftMetrics::Observer(std::function<void(const NodeStatus&)> next) {
  NodeObserver o;
  o.on_persist = [this](double s) { persist_latency.Observe(s); };
  o.on_commit = [this](double s) { commit_latency.Observe(s); };
  o.on_election = [this](double s) { election_latency.Observe(s); };
  auto seen = std::make_shared<std::pair<uint64_t, uint64_t>>();
  o.on_status = [this, next, seen](const NodeStatus& st) {
    // The node counts from its start; these counters only ever grow.
    if (st.lease_reads > seen->first) lease_reads.Increment(st.lease_reads - seen->first);
    if (st.read_index_reads > seen->second)
      read_index_reads.Increment(st.read_index_reads - seen->second);
    seen->first = std::max(seen->first, st.lease_reads);
    seen->second = std::max(seen->second, st.read_index_reads);
    term.Set(static_cast<double>(st.term));
    is_leader.Set(st.role == Role::kLeader ? 1 : 0);
    commit_index.Set(static_cast<double>(st.commit));
    applied_index.Set(static_cast<double>(st.applied));
    apply_lag.Set(st.commit > st.applied ? static_cast<double>(st.commit - st.applied) : 0);
    leader_changes.Set(static_cast<double>(st.leader_changes));
    if (next) next(st);
  };
  return o;
}

}  // namespace medvault::raft
