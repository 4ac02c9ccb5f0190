// Leader-side log replication of the Raft core: answers to appends and heartbeats update each
// follower's progress (probe, replicate, snapshot), appends and snapshots are sent from it, the
// commit index follows the quorum's match, and heartbeat answers confirm pending reads (see
// raft.h).
#include <algorithm>
#include <functional>

#include "raft/raft.h"

namespace medvault::raft {

using v1::RAFT_MSG_APPEND;
using v1::RAFT_MSG_APPEND_RESPONSE;
using v1::RAFT_MSG_HEARTBEAT;
using v1::RAFT_MSG_HEARTBEAT_RESPONSE;
using v1::RAFT_MSG_SNAPSHOT;

void Raft::StepLeader(const Message& m) {
  switch (m.type()) {
    case RAFT_MSG_APPEND_RESPONSE:
      HandleAppendResponse(m);
      break;
    case RAFT_MSG_HEARTBEAT_RESPONSE:
      HandleHeartbeatResponse(m);
      break;
    default:
      break;
  }
}

void Raft::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from());
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject()) {
    if (m.index() <= pr.match) {
      // Either a stale answer or a follower that lost its disk (wiped and restarted). If it holds
      // less than we thought, start over from what it holds; a stale answer only costs a resend.
      if (m.reject_hint() >= pr.match) return;
      pr.match = m.reject_hint();
      pr.next = m.reject_hint() + 1;
      pr.state = Progress::State::kProbe;
      pr.inflight.clear();
      pr.probe_sent = false;
      SendAppend(m.from());
      return;
    }
    if (pr.state == Progress::State::kReplicate) {
      pr.state = Progress::State::kProbe;
      pr.inflight.clear();
      pr.next = pr.match + 1;
    } else if (pr.state == Progress::State::kProbe && m.index() + 1 == pr.next) {
      pr.next = std::max(pr.match + 1, std::min(m.index(), m.reject_hint() + 1));
    } else {
      return;
    }
    pr.probe_sent = false;
    SendAppend(m.from());
    return;
  }
  bool updated = false;
  if (m.index() > pr.match) {
    pr.match = m.index();
    updated = true;
  }
  pr.next = std::max(pr.next, m.index() + 1);
  while (!pr.inflight.empty() && pr.inflight.front() <= m.index()) pr.inflight.pop_front();
  switch (pr.state) {
    case Progress::State::kProbe:
      pr.state = Progress::State::kReplicate;
      pr.next = pr.match + 1;
      pr.inflight.clear();
      break;
    case Progress::State::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.state = Progress::State::kProbe;
        pr.next = pr.match + 1;
        pr.probe_sent = false;
      }
      break;
    case Progress::State::kReplicate:
      break;
  }
  if (updated && MaybeCommit()) {
    BroadcastAppend();
  } else {
    SendAppend(m.from(), /*send_if_empty=*/false);
  }
  if (updated && IsLearner(m.from())) MaybePromote(m.from());
  if (m.from() == lead_transferee_) MaybeSendTimeoutNow(m.from());
}

void Raft::HandleHeartbeatResponse(const Message& m) {
  auto it = progress_.find(m.from());
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  if (m.index() < pr.match) {
    // The follower holds less than it once acknowledged: it lost its disk (or this answer is old,
    // which only costs a resend). Find where its log ends again.
    pr.match = m.index();
    pr.next = m.index() + 1;
    pr.state = Progress::State::kProbe;
    pr.inflight.clear();
  }
  // Appends may have been lost: free a slot so replication can make progress again.
  if (pr.state == Progress::State::kReplicate &&
      static_cast<int>(pr.inflight.size()) >= options_.max_inflight) {
    pr.inflight.pop_front();
  }
  if (pr.match < log_.LastIndex()) SendAppend(m.from());

  if (m.context().empty()) return;
  auto read = std::find_if(pending_reads_.begin(), pending_reads_.end(),
                           [&](const PendingRead& r) { return r.context == m.context(); });
  if (read == pending_reads_.end() || !IsMember(m.from())) return;
  read->acks.insert(m.from());
  if (read->acks.size() < Quorum()) return;
  // A majority still follows us after this read arrived: it and every earlier read are current.
  const auto end = read + 1;
  for (auto r = pending_reads_.begin(); r != end; ++r)
    read_states_.push_back({r->index, r->context});
  pending_reads_.erase(pending_reads_.begin(), end);
}

void Raft::SendAppend(uint64_t to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end() || to == id_) return;
  Progress& pr = it->second;
  if (pr.state == Progress::State::kSnapshot) return;
  if (pr.state == Progress::State::kProbe && pr.probe_sent) return;
  if (pr.state == Progress::State::kReplicate &&
      static_cast<int>(pr.inflight.size()) >= options_.max_inflight) {
    return;
  }
  const uint64_t prev = pr.next - 1;
  if (pr.next < log_.FirstIndex()) {
    // The follower needs entries we compacted away: send a snapshot instead.
    if (!options_.snapshot_source) return;
    absl::StatusOr<Snapshot> snap = options_.snapshot_source();
    if (!snap.ok()) return;
    Message m;
    m.set_type(RAFT_MSG_SNAPSHOT);
    m.set_to(to);
    pr.state = Progress::State::kSnapshot;
    pr.pending_snapshot = snap->meta().index();
    pr.snapshot_ticks = 0;
    *m.mutable_snapshot() = std::move(*snap);
    Send(std::move(m));
    return;
  }
  std::vector<Entry> entries =
      log_.Slice(pr.next, log_.LastIndex() + 1, options_.max_bytes_per_message);
  if (entries.empty() && !send_if_empty) return;
  Message m;
  m.set_type(RAFT_MSG_APPEND);
  m.set_to(to);
  m.set_index(prev);
  m.set_log_term(log_.Term(prev));
  m.set_commit(log_.committed());
  for (Entry& e : entries) *m.add_entries() = std::move(e);
  if (m.entries_size() > 0 && pr.state == Progress::State::kReplicate) {
    const uint64_t last = m.entries(m.entries_size() - 1).index();
    pr.next = last + 1;
    pr.inflight.push_back(last);
  } else if (pr.state == Progress::State::kProbe) {
    pr.probe_sent = true;
  }
  Send(std::move(m));
}

void Raft::BroadcastAppend() {
  for (const auto& [id, pr] : progress_) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::SendHeartbeat(uint64_t to, const std::string& context) {
  const Progress& pr = progress_.at(to);
  Message m;
  m.set_type(RAFT_MSG_HEARTBEAT);
  m.set_to(to);
  // Never tell a follower to commit past what it is known to hold.
  m.set_commit(std::min(pr.match, log_.committed()));
  m.set_context(context);
  Send(std::move(m));
}

void Raft::BroadcastHeartbeat(const std::string& context) {
  for (auto& [id, pr] : progress_) {
    if (id == id_) continue;
    if (pr.state == Progress::State::kProbe) pr.probe_sent = false;
    SendHeartbeat(id, context);
  }
}

bool Raft::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (const auto& member : config_.members()) {
    auto it = progress_.find(member.id());
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<uint64_t>());
  const uint64_t quorum_index = matches[Quorum() - 1];
  if (!log_.MaybeCommit(quorum_index, term_)) return false;
  if (!reads_awaiting_commit_.empty() && CommittedInTerm()) {
    std::vector<std::string> reads = std::move(reads_awaiting_commit_);
    reads_awaiting_commit_.clear();
    for (std::string& r : reads) StartRead(std::move(r));
  }
  return true;
}

}  // namespace medvault::raft
