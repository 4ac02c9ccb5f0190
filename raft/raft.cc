#include "raft/raft.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace medvault::raft {

using v1::RAFT_ENTRY_COMMAND;
using v1::RAFT_ENTRY_CONFIG;
using v1::RAFT_ENTRY_NOOP;
using v1::RAFT_MSG_APPEND;
using v1::RAFT_MSG_APPEND_RESPONSE;
using v1::RAFT_MSG_HEARTBEAT;
using v1::RAFT_MSG_HEARTBEAT_RESPONSE;
using v1::RAFT_MSG_PRE_VOTE;
using v1::RAFT_MSG_PRE_VOTE_RESPONSE;
using v1::RAFT_MSG_SNAPSHOT;
using v1::RAFT_MSG_TIMEOUT_NOW;
using v1::RAFT_MSG_VOTE;
using v1::RAFT_MSG_VOTE_RESPONSE;

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

Raft::Raft(RaftOptions options, LogStorage* storage)
    : options_(std::move(options)),
      id_(options_.id),
      storage_(storage),
      log_(storage, options_.applied),
      rng_(options_.seed ^ (options_.id * 0x9E3779B97F4A7C15ull)) {
  const HardState hs = storage->hard_state();
  term_ = hs.term();
  vote_ = hs.vote();
  prev_hard_state_ = hs;
  base_config_ = storage->snapshot_meta().config();
  const uint64_t first = storage->FirstIndex();
  const uint64_t last = storage->LastIndex();
  if (last >= first) {
    absl::StatusOr<std::vector<Entry>> all = storage->Entries(first, last + 1, UINT64_MAX);
    if (all.ok()) ReconcileConfigEntries(first, *all);
  }
  RebuildConfig();
  Reset(term_);
  if (options_.refuse_votes_at_start) start_vote_guard_ = std::max(0, options_.election_ticks - 1);
}

bool Raft::IsMember(uint64_t id) const {
  for (const auto& m : config_.members()) {
    if (m.id() == id) return true;
  }
  return false;
}

bool Raft::IsLearner(uint64_t id) const {
  for (const auto& m : config_.learners()) {
    if (m.id() == id) return true;
  }
  return false;
}

// ---- roles ----

void Raft::Reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_ = 0;
  }
  lead_ = 0;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  std::uniform_int_distribution<int> dist(options_.election_ticks, 2 * options_.election_ticks - 1);
  randomized_election_timeout_ = dist(rng_);
  votes_.clear();
  progress_.clear();
  lead_transferee_ = 0;
  pending_reads_.clear();
  reads_awaiting_commit_.clear();
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::BecomePreCandidate() {
  // Pre-vote does not touch the term or the vote, so a partitioned node cannot inflate terms.
  votes_.clear();
  lead_ = 0;
  role_ = Role::kPreCandidate;
}

void Raft::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::BecomeLeader() {
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  for (const auto* list : {&config_.members(), &config_.learners()}) {
    for (const auto& m : *list) {
      Progress& pr = progress_[m.id()];
      pr.next = log_.LastIndex() + 1;
      pr.recent_active = m.id() == id_;
    }
  }
  // No membership change until an entry of this term (the no-op) has committed.
  pending_config_index_ = log_.LastIndex() + 1;
  AppendEntry(RAFT_ENTRY_NOOP, "");
}

void Raft::Campaign() {
  if (role_ != Role::kLeader && IsMember(id_)) StartCampaign(/*pre_vote=*/true);
}

void Raft::StartCampaign(bool pre_vote, bool transfer) {
  uint64_t campaign_term;
  if (pre_vote) {
    BecomePreCandidate();
    campaign_term = term_ + 1;
  } else {
    BecomeCandidate();
    campaign_term = term_;
  }
  votes_[id_] = true;
  if (votes_.size() >= Quorum()) {  // a group of one
    if (pre_vote) {
      StartCampaign(false);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (const auto& member : config_.members()) {
    if (member.id() == id_) continue;
    Message m;
    m.set_type(pre_vote ? RAFT_MSG_PRE_VOTE : RAFT_MSG_VOTE);
    m.set_to(member.id());
    m.set_term(campaign_term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    m.set_transfer(transfer);
    Send(std::move(m));
  }
}

// ---- time ----

void Raft::Tick() {
  if (start_vote_guard_ > 0) --start_vote_guard_;
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_timeout_ && IsMember(id_)) {
    election_elapsed_ = 0;
    StartCampaign(/*pre_vote=*/true);
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (lead_transferee_ != 0 && ++transfer_elapsed_ >= options_.election_ticks) {
    lead_transferee_ = 0;  // the transferee did not take over in time: serve again
  }
  if (election_elapsed_ >= options_.election_ticks) {
    election_elapsed_ = 0;
    // Check quorum: a leader that has not heard from a majority for an election timeout steps down,
    // so a partitioned leader stops serving reads it can no longer prove are current.
    size_t active = 0;
    for (auto& [id, pr] : progress_) {
      if (IsMember(id) && (id == id_ || pr.recent_active)) ++active;
      pr.recent_active = false;
    }
    if (IsMember(id_) && active < Quorum()) {
      BecomeFollower(term_, 0);
      return;
    }
  }
  for (auto& [id, pr] : progress_) {
    if (pr.state == Progress::State::kSnapshot &&
        ++pr.snapshot_ticks > 2 * options_.election_ticks) {
      // The snapshot or its answer was lost; probe again (which resends it if still needed).
      pr.state = Progress::State::kProbe;
      pr.next = pr.match + 1;
      pr.probe_sent = false;
    }
  }
  if (heartbeat_elapsed_ >= options_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    // Carry the newest pending read, as etcd does: if the heartbeats StartRead sent for it were
    // lost, a quorum of answers to this one confirms it and every read before it.
    BroadcastHeartbeat(pending_reads_.empty() ? "" : pending_reads_.back().context);
  }
}

// ---- messages ----

void Raft::Send(Message m) {
  m.set_from(id_);
  if (m.term() == 0) m.set_term(term_);
  msgs_.push_back(std::move(m));
}

void Raft::Step(const Message& m) {
  if (m.term() > term_) {
    if (m.type() == RAFT_MSG_VOTE || m.type() == RAFT_MSG_PRE_VOTE) {
      // Leader lease: while we hear from a leader, a disruptive candidate is ignored.
      // A campaign the leader itself started (TIMEOUT_NOW) is not disruptive.
      const bool in_lease =
          (lead_ != 0 && election_elapsed_ < options_.election_ticks) || start_vote_guard_ > 0;
      if (in_lease && !m.transfer()) return;
    }
    if (m.type() == RAFT_MSG_PRE_VOTE) {
      // Never adopt the term of a pre-vote.
    } else if (m.type() == RAFT_MSG_PRE_VOTE_RESPONSE && !m.reject()) {
      // A granted pre-vote carries the term we would campaign in; the vote is counted below.
    } else if (m.type() == RAFT_MSG_APPEND || m.type() == RAFT_MSG_HEARTBEAT ||
               m.type() == RAFT_MSG_SNAPSHOT) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), 0);
    }
  } else if (m.term() < term_) {
    if (m.type() == RAFT_MSG_APPEND || m.type() == RAFT_MSG_HEARTBEAT) {
      // A deposed leader: tell it the current term so it steps down.
      Message resp;
      resp.set_type(RAFT_MSG_APPEND_RESPONSE);
      resp.set_to(m.from());
      Send(std::move(resp));
    } else if (m.type() == RAFT_MSG_PRE_VOTE) {
      Message resp;
      resp.set_type(RAFT_MSG_PRE_VOTE_RESPONSE);
      resp.set_to(m.from());
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return;
  }

  if (m.type() == RAFT_MSG_VOTE || m.type() == RAFT_MSG_PRE_VOTE) {
    HandleVoteRequest(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool pre = m.type() == RAFT_MSG_PRE_VOTE;
  const bool can_vote =
      vote_ == m.from() || (vote_ == 0 && lead_ == 0) || (pre && m.term() > term_);
  // A node that knows no membership (new, or wiped and rejoining) has lost its voting history and
  // must not vote until a leader has given it the group's state.
  const bool knows_group = config_.members_size() > 0;
  Message resp;
  resp.set_type(pre ? RAFT_MSG_PRE_VOTE_RESPONSE : RAFT_MSG_VOTE_RESPONSE);
  resp.set_to(m.from());
  if (can_vote && knows_group && log_.IsUpToDate(m.index(), m.log_term())) {
    resp.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  Send(std::move(resp));
}

void Raft::StepFollower(const Message& m) {
  switch (m.type()) {
    case RAFT_MSG_APPEND:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppend(m);
      break;
    case RAFT_MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case RAFT_MSG_SNAPSHOT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case RAFT_MSG_TIMEOUT_NOW:
      // Our leader hands us leadership: we hold its whole log, so campaign now, skipping pre-vote.
      if (IsMember(id_)) StartCampaign(/*pre_vote=*/false, /*transfer=*/true);
      break;
    default:
      break;
  }
}

void Raft::StepCandidate(const Message& m) {
  const auto expected =
      role_ == Role::kPreCandidate ? RAFT_MSG_PRE_VOTE_RESPONSE : RAFT_MSG_VOTE_RESPONSE;
  switch (m.type()) {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
      BecomeFollower(m.term(), m.from());
      StepFollower(m);
      return;
    default:
      break;
  }
  if (m.type() != expected || !IsMember(m.from())) return;
  votes_[m.from()] = !m.reject();
  size_t granted = 0;
  for (const auto& [id, yes] : votes_) granted += yes ? 1 : 0;
  const size_t rejected = votes_.size() - granted;
  if (granted >= Quorum()) {
    if (role_ == Role::kPreCandidate) {
      StartCampaign(/*pre_vote=*/false);
    } else {
      BecomeLeader();
    }
  } else if (rejected >= Quorum()) {
    BecomeFollower(term_, 0);
  }
}

void Raft::HandleAppend(const Message& m) {
  Message resp;
  resp.set_type(RAFT_MSG_APPEND_RESPONSE);
  resp.set_to(m.from());
  if (m.index() < log_.committed()) {
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<Entry> entries(m.entries().begin(), m.entries().end());
  std::optional<uint64_t> last = log_.MaybeAppend(m.index(), m.log_term(), m.commit(), entries);
  if (last) {
    ReconcileConfigEntries(m.index() + 1, entries);
    resp.set_index(*last);
  } else {
    resp.set_index(m.index());
    resp.set_reject(true);
    resp.set_reject_hint(log_.LastIndex());
  }
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(m.commit());
  Message resp;
  resp.set_type(RAFT_MSG_HEARTBEAT_RESPONSE);
  resp.set_to(m.from());
  resp.set_context(m.context());
  resp.set_index(log_.LastIndex());
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot().meta();
  Message resp;
  resp.set_type(RAFT_MSG_APPEND_RESPONSE);
  resp.set_to(m.from());
  if (meta.index() <= log_.committed()) {
    resp.set_index(log_.committed());
  } else if (log_.MatchTerm(meta.index(), meta.term())) {
    // We already hold the snapshot's entries: just fast-forward the commit.
    log_.CommitTo(meta.index());
    resp.set_index(log_.committed());
  } else {
    log_.Restore(m.snapshot());
    base_config_ = meta.config();
    config_entries_.clear();
    RebuildConfig();
    resp.set_index(meta.index());
  }
  Send(std::move(resp));
}

void Raft::AppendEntry(v1::RaftEntryType type, std::string data) {
  Entry e;
  e.set_term(term_);
  e.set_index(log_.LastIndex() + 1);
  e.set_type(type);
  e.set_data(std::move(data));
  const std::vector<Entry> entries{e};
  log_.Append(entries);
  if (type == RAFT_ENTRY_CONFIG) ReconcileConfigEntries(e.index(), entries);
  // Our own progress advances when the driver has persisted the entry (Advance), so the leader
  // never counts an entry that is not on its own disk.
  BroadcastAppend();
}

absl::StatusOr<uint64_t> Raft::Propose(std::string data) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the leader (leader is node ", lead_, ")"));
  }
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("handing leadership off (to node ", lead_transferee_, ")"));
  }
  if (data.size() > options_.max_entry_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("a replicated command of ", data.size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_entry_bytes, " bytes"));
  }
  AppendEntry(RAFT_ENTRY_COMMAND, std::move(data));
  return log_.LastIndex();
}

absl::Status Raft::ReadIndex(std::string context) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the leader (leader is node ", lead_, ")"));
  }
  if (!CommittedInTerm()) {
    // Until our no-op commits we do not know the true commit index.
    reads_awaiting_commit_.push_back(std::move(context));
    return absl::OkStatus();
  }
  StartRead(std::move(context));
  return absl::OkStatus();
}

void Raft::StartRead(std::string context) {
  const uint64_t index = log_.committed();
  if (Quorum() <= 1 && IsMember(id_)) {
    read_states_.push_back({index, std::move(context)});
    return;
  }
  PendingRead read{context, index, {}};
  if (IsMember(id_)) read.acks.insert(id_);
  pending_reads_.push_back(std::move(read));
  BroadcastHeartbeat(context);
}

// ---- driver interface ----

bool Raft::HasReady() const {
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
         hs.commit() != prev_hard_state_.commit() || !log_.unstable_entries().empty() ||
         log_.unstable_snapshot().has_value() || !msgs_.empty() || log_.HasNextCommitted() ||
         !read_states_.empty();
}

Ready Raft::GetReady() {
  Ready rd;
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  if (hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
      hs.commit() != prev_hard_state_.commit()) {
    rd.hard_state = hs;
  }
  rd.entries = log_.unstable_entries();
  rd.snapshot = log_.unstable_snapshot();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.committed_entries = log_.NextCommitted(options_.max_bytes_per_message);
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.send_before_persist = role_ == Role::kLeader && !rd.snapshot &&
                           hs.term() == prev_hard_state_.term() &&
                           hs.vote() == prev_hard_state_.vote();
  return rd;
}

void Raft::Advance(const Ready& rd) {
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  if (rd.snapshot) {
    log_.StableSnapshotTo(rd.snapshot->meta().index());
    log_.AppliedTo(rd.snapshot->meta().index());
  }
  if (!rd.entries.empty()) {
    const Entry& last = rd.entries.back();
    log_.StableTo(last.index(), last.term());
    if (role_ == Role::kLeader && last.term() == term_) {
      auto self = progress_.find(id_);
      if (self != progress_.end() && log_.MatchTerm(last.index(), last.term())) {
        self->second.match = std::max(self->second.match, last.index());
        self->second.next = self->second.match + 1;
        if (MaybeCommit()) BroadcastAppend();
      }
    }
  }
  if (!rd.committed_entries.empty()) log_.AppliedTo(rd.committed_entries.back().index());
  // Configs at or below the applied index are settled: fold them into the base.
  while (!config_entries_.empty() && config_entries_.begin()->first <= log_.applied() &&
         config_entries_.size() > 1) {
    base_config_ = config_entries_.begin()->second.second;
    config_entries_.erase(config_entries_.begin());
  }
  // A leader removed from the group steps down once its removal has committed.
  if (role_ == Role::kLeader && !IsMember(id_)) {
    const uint64_t config_index = config_entries_.empty() ? 0 : config_entries_.rbegin()->first;
    if (config_index <= log_.committed()) BecomeFollower(term_, 0);
  }
}

}  // namespace medvault::raft
