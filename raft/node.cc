#include "raft/node.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace medvault::raft {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Clock::time_point Deadline(absl::Duration timeout) {
  return Clock::now() + std::chrono::microseconds(absl::ToInt64Microseconds(timeout));
}

}  // namespace

RaftNode::RaftNode(NodeOptions options, LogStorage* storage, StateMachine* machine,
                   Transport* transport, NodeObserver observer)
    : options_(options),
      storage_(storage),
      machine_(machine),
      transport_(transport),
      observer_(std::move(observer)) {}

RaftNode::~RaftNode() { Stop(); }

absl::Status RaftNode::Bootstrap(LogStorage* storage, StateMachine* machine, const Config& config) {
  if (storage->LastIndex() != 0 || storage->hard_state().term() != 0 ||
      storage->snapshot_meta().config().members_size() != 0) {
    return absl::FailedPreconditionError("the replica already holds Raft state; not bootstrapping");
  }
  if (config.members_size() == 0)
    return absl::InvalidArgumentError("a group needs at least one member");
  if (machine->Applied().index() != 0)
    return absl::FailedPreconditionError("the state machine is not new");
  absl::Status initialized = machine->Initialize(config);
  if (!initialized.ok()) return initialized;
  SnapshotMeta meta;
  *meta.mutable_config() = config;
  return storage->InstallSnapshot(meta);
}

absl::Status RaftNode::Start() {
  RaftOptions ro;
  ro.id = options_.id;
  ro.election_ticks = options_.election_ticks;
  ro.heartbeat_ticks = options_.heartbeat_ticks;
  ro.seed = options_.seed;
  ro.refuse_votes_at_start = options_.lease_reads;
  ro.applied = machine_->Applied().index();
  if (ro.applied < storage_->snapshot_meta().index()) {
    return absl::DataLossError("the state machine is behind the compacted Raft log");
  }
  if (ro.applied > storage_->LastIndex()) {
    // Only a snapshot puts the state machine past the end of the log: one was installed (or its
    // install finished at open) and the replica stopped before the log recorded it. The log now
    // follows that snapshot, as it would have.
    absl::Status followed = storage_->InstallSnapshot(machine_->Applied());
    if (!followed.ok()) return followed;
  }
  if (options_.stream_snapshots) {
    ro.snapshot_source = [this]() -> absl::StatusOr<Snapshot> {
      Snapshot snap;  // the transport streams the state (its own, later, consistent view)
      *snap.mutable_meta() = machine_->Applied();
      snap.set_staged(true);
      return snap;
    };
  } else {
    ro.snapshot_source = [this] { return machine_->TakeSnapshot(); };
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    raft_ = std::make_unique<Raft>(ro, storage_);
    applied_ = ro.applied;
    if (options_.lease_reads && options_.election_ticks > 1) {
      const absl::Duration lease = options_.tick * (options_.election_ticks - 1) *
                                   std::max(0.0, 1.0 - options_.clock_drift_bound);
      lease_duration_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::microseconds(absl::ToInt64Microseconds(lease)));
    }
    leaderless_since_ = Clock::now();
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void RaftNode::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [i, w] : proposals_)
    w->done = true, w->result = absl::UnavailableError("replica is shutting down");
  for (auto& [c, w] : reads_)
    w->done = true, w->result = absl::UnavailableError("replica is shutting down");
  for (auto& w : read_waits_)
    w->done = true, w->result = absl::UnavailableError("replica is shutting down");
  proposals_.clear();
  reads_.clear();
  read_waits_.clear();
  progress_.notify_all();
}

void RaftNode::Receive(std::vector<Message> messages) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    for (Message& m : messages) {
      if (m.to() == options_.id) inbox_.push_back(std::move(m)), ++received_;
    }
  }
  wake_.notify_one();
}

absl::Status RaftNode::ReceiveSnapshot(Message snapshot, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || fatal_) return absl::UnavailableError("replica is not running");
  if (snapshot.to() != options_.id)
    return absl::InvalidArgumentError("snapshot is addressed to another replica");
  inbox_.push_back(std::move(snapshot));
  const uint64_t mine = ++received_;
  wake_.notify_one();
  if (!progress_.wait_until(lock, Deadline(timeout),
                            [&] { return stopping_ || fatal_ || settled_ >= mine; })) {
    return absl::UnavailableError("the replica did not install the snapshot in time");
  }
  if (settled_ < mine) return absl::UnavailableError("replica stopped installing the snapshot");
  return absl::OkStatus();
}

void RaftNode::Loop() {
  const auto tick = std::chrono::microseconds(absl::ToInt64Microseconds(options_.tick));
  Clock::time_point next_tick = Clock::now() + tick;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && !fatal_) {
    wake_.wait_until(lock, next_tick,
                     [&] { return stopping_ || !inbox_.empty() || raft_->HasReady(); });
    if (stopping_) break;
    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      raft_->Tick();
      next_tick += tick;
      if (next_tick < now)
        next_tick = now + tick;  // we fell behind (e.g. a slow fsync): do not burst
    }
    while (!inbox_.empty()) {
      raft_->Step(inbox_.front());
      inbox_.pop_front();
    }
    const uint64_t stepped = received_;
    PublishStatus();
    if (!raft_->HasReady()) {
      if (settled_ != stepped) settled_ = stepped, progress_.notify_all();
      continue;
    }
    Ready rd = raft_->GetReady();
    // Peer addresses as of this Ready (the core is only touched under the lock).
    std::map<uint64_t, std::string> addresses;
    for (const Message& m : rd.messages) addresses.emplace(m.to(), AddressOf(m.to()));
    lock.unlock();

    auto send = [&] {  // queues only: the transport sends from its own threads
      std::map<std::string, std::vector<Message>> outgoing;
      for (Message& m : rd.messages) {
        const std::string& address = addresses[m.to()];
        if (!address.empty()) outgoing[address].push_back(std::move(m));
      }
      for (auto& [address, messages] : outgoing) transport_->Send(address, std::move(messages));
    };
    // 1. A leader's appends leave at once, so its followers' fsyncs run beside its own (the core
    //    counts the leader's copy only after Advance). Everything else waits for step 2.
    if (rd.send_before_persist) send();
    // 2. Persist (fsync) before anything that depends on it leaves this node.
    const Clock::time_point persist_start = Clock::now();
    absl::Status persisted;
    if (rd.snapshot) {
      persisted = machine_->Restore(*rd.snapshot);
      if (persisted.ok()) persisted = storage_->InstallSnapshot(rd.snapshot->meta());
    }
    if (persisted.ok())
      persisted = storage_->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries);
    if (observer_.on_persist && (rd.hard_state || !rd.entries.empty()))
      observer_.on_persist(SecondsSince(persist_start));
    if (persisted.ok() && !rd.send_before_persist) send();
    // 3. Apply.
    absl::StatusOr<std::vector<absl::Status>> results = std::vector<absl::Status>{};
    if (persisted.ok() && !rd.committed_entries.empty())
      results = machine_->Apply(rd.committed_entries);

    lock.lock();
    if (!persisted.ok() || !results.ok()) {
      MV_LOG(ERROR) << "raft replica " << options_.id
                    << " stops: " << (!persisted.ok() ? persisted : results.status());
      fatal_ = true;
      break;
    }
    if (rd.snapshot) {
      applied_ = rd.snapshot->meta().index();
      for (auto it = proposals_.begin(); it != proposals_.end() && it->first <= applied_;) {
        it->second->done = true;
        it->second->result = absl::UnavailableError("replica was replaced by a snapshot; retry");
        it = proposals_.erase(it);
      }
    }
    if (!rd.committed_entries.empty()) {
      applied_ = rd.committed_entries.back().index();
      CompleteWaiters(rd.committed_entries, *results);
    }
    for (const ReadState& rs : rd.read_states) {
      if (auto round = lease_rounds_.find(rs.context); round != lease_rounds_.end()) {
        ExtendLease(round->second);
        lease_rounds_.erase(round);
        continue;
      }
      auto it = reads_.find(rs.context);
      if (it == reads_.end()) continue;
      ExtendLease(it->second->sent);
      it->second->index = std::max(rs.index, it->second->floor);
      read_waits_.push_back(it->second);
      reads_.erase(it);
    }
    for (auto it = read_waits_.begin(); it != read_waits_.end();) {
      if ((*it)->index <= applied_) {
        (*it)->done = true;
        it = read_waits_.erase(it);
      } else {
        ++it;
      }
    }
    raft_->Advance(rd);
    if (applied_ >= storage_->FirstIndex() + options_.compact_after_entries) {
      absl::Status compacted = storage_->Compact(machine_->Applied());
      if (!compacted.ok()) MV_LOG(WARNING) << "raft log compaction failed: " << compacted;
    }
    PublishStatus();
    settled_ = stepped;
    progress_.notify_all();
  }
  if (fatal_) {
    for (auto& [i, w] : proposals_)
      w->done = true, w->result = absl::UnavailableError("replica stopped");
    proposals_.clear();
    progress_.notify_all();
  }
}

void RaftNode::CompleteWaiters(const std::vector<Entry>& entries,
                               const std::vector<absl::Status>& results) {
  for (size_t i = 0; i < entries.size(); ++i) {
    auto it = proposals_.find(entries[i].index());
    if (it == proposals_.end()) continue;
    Waiter& w = *it->second;
    w.done = true;
    w.result = entries[i].term() == w.term
                   ? results[i]
                   : absl::UnavailableError("leadership changed before the write committed; retry");
    proposals_.erase(it);
  }
}

void RaftNode::PublishStatus() {
  const Role role = raft_->role();
  const uint64_t leader = raft_->leader();
  if (leader != last_leader_) {
    if (leader == 0) {
      leaderless_ = true;
      leaderless_since_ = Clock::now();
    } else {
      if (leaderless_ && observer_.on_election)
        observer_.on_election(SecondsSince(leaderless_since_));
      leaderless_ = false;
      ++status_.leader_changes;
    }
    last_leader_ = leader;
  }
  if (role != Role::kLeader) {
    // Pending reads died with the leadership; proposals may still commit under the new leader, but
    // the caller cannot learn it here, so it is told to retry (commands are idempotent).
    const bool lost = status_.role == Role::kLeader;
    for (auto& [c, w] : reads_) w->done = true, w->result = NotLeader();
    reads_.clear();
    for (auto& w : read_waits_) w->done = true, w->result = NotLeader();
    read_waits_.clear();
    lease_rounds_.clear();
    lease_until_ = {};
    if (lost) {
      for (auto& [i, w] : proposals_) w->done = true, w->result = NotLeader();
      proposals_.clear();
    }
    progress_.notify_all();
  }
  status_.id = options_.id;
  status_.term = raft_->term();
  status_.role = role;
  status_.leader = leader;
  status_.leader_address = AddressOf(leader);
  status_.commit = raft_->log().committed();
  status_.applied = applied_;
  if (observer_.on_status) observer_.on_status(status_);
}

std::string RaftNode::AddressOf(uint64_t id) const {
  if (id == 0) return "";
  for (const auto* list : {&raft_->config().members(), &raft_->config().learners()}) {
    for (const auto& m : *list) {
      if (m.id() == id) return m.address();
    }
  }
  auto it = options_.peers.find(id);
  return it == options_.peers.end() ? "" : it->second;
}

absl::Status RaftNode::NotLeader() const {
  if (status_.leader != 0 && status_.leader != options_.id && !status_.leader_address.empty()) {
    return absl::UnavailableError(
        absl::StrCat("not the leader; leader is ", status_.leader_address));
  }
  return absl::UnavailableError("no leader elected yet; retry");
}

absl::Status RaftNode::Wait(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Waiter>& w,
                            absl::Duration timeout) {
  if (!progress_.wait_until(lock, Deadline(timeout), [&] { return w->done; })) {
    for (auto it = proposals_.begin(); it != proposals_.end(); ++it) {
      if (it->second == w) {
        proposals_.erase(it);
        break;
      }
    }
    for (auto it = reads_.begin(); it != reads_.end(); ++it) {
      if (it->second == w) {
        reads_.erase(it);
        break;
      }
    }
    for (auto it = read_waits_.begin(); it != read_waits_.end(); ++it) {
      if (*it == w) {
        read_waits_.erase(it);
        break;
      }
    }
    return absl::UnavailableError("the replicated group did not answer in time; retry");
  }
  return w->result;
}

absl::Status RaftNode::Propose(std::string command, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || fatal_) return absl::UnavailableError("replica is not running");
  const Clock::time_point start = Clock::now();
  absl::StatusOr<uint64_t> index = raft_->Propose(std::move(command));
  if (absl::IsInvalidArgument(index.status())) return index.status();  // too large
  if (!index.ok()) return NotLeader();
  auto w = std::make_shared<Waiter>();
  w->index = *index;
  w->term = raft_->term();
  proposals_[*index] = w;
  last_proposed_index_ = *index;
  last_proposed_term_ = w->term;
  wake_.notify_one();
  absl::Status result = Wait(lock, w, timeout);
  if (result.ok() && observer_.on_commit) observer_.on_commit(SecondsSince(start));
  return result;
}

absl::Status RaftNode::CompactLog() {
  // Under the lock, as the loop's own compaction: the core never sees the log change mid-step.
  // Entries up to the applied index are never rewritten by a later Save, which only replaces
  // uncommitted entries.
  std::unique_lock<std::mutex> lock(mu_);
  return storage_->Compact(machine_->Applied());
}

bool RaftNode::LeaseHolds(Time now) const {
  return lease_duration_ > Clock::duration::zero() && raft_->role() == Role::kLeader &&
         lease_term_ == raft_->term() && no_lease_term_ != raft_->term() &&
         raft_->lead_transferee() == 0 && now < lease_until_;
}

void RaftNode::ExtendLease(Time sent) {
  // A read state arrives only while this node leads in the term the round began in (the core
  // forgets pending reads on any change of role or term).
  if (lease_duration_ == Clock::duration::zero() || raft_->role() != Role::kLeader ||
      no_lease_term_ == raft_->term()) {
    return;
  }
  if (lease_term_ != raft_->term()) lease_until_ = {};
  lease_term_ = raft_->term();
  lease_until_ = std::max(lease_until_, sent + lease_duration_);
}

void RaftNode::MaybeRenewLease(Time now) {
  // Renew in the background once half the lease is spent, so a steady stream of reads never
  // waits for a round; one renewal at a time (a lost one is superseded after a lease).
  if (now < lease_until_ - lease_duration_ / 2) return;
  for (const auto& [context, sent] : lease_rounds_) {
    if (now - sent < lease_duration_) return;
  }
  const std::string context = absl::StrCat("lease-", next_read_++);
  if (!raft_->ReadIndex(context).ok()) return;
  lease_rounds_[context] = now;
  wake_.notify_one();
}

absl::Status RaftNode::ReadBarrier(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || fatal_) return absl::UnavailableError("replica is not running");
  const Time now = Clock::now();
  const uint64_t floor = last_proposed_term_ == raft_->term() ? last_proposed_index_ : 0;
  if (LeaseHolds(now)) {
    ++status_.lease_reads;
    MaybeRenewLease(now);
    const uint64_t index = std::max(raft_->log().committed(), floor);
    if (index <= applied_) return absl::OkStatus();
    auto w = std::make_shared<Waiter>();
    w->index = index;
    read_waits_.push_back(w);
    wake_.notify_one();
    return Wait(lock, w, timeout);
  }
  const std::string context = absl::StrCat(next_read_++);
  if (!raft_->ReadIndex(context).ok()) return NotLeader();
  ++status_.read_index_reads;
  auto w = std::make_shared<Waiter>();
  w->floor = floor;
  w->sent = now;
  reads_[context] = w;
  wake_.notify_one();
  return Wait(lock, w, timeout);
}

absl::Status RaftNode::StreamBackup(
    absl::Duration timeout, size_t piece_bytes,
    const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
  absl::Status current = ReadBarrier(timeout);
  if (!current.ok()) return current;
  // Applies may follow the barrier: the backup then holds a little more, still a committed state.
  return machine_->StreamSnapshot(piece_bytes, emit);
}

absl::Status RaftNode::ProposeConfigAndWait(const Config& config, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || fatal_) return absl::UnavailableError("replica is not running");
  absl::StatusOr<uint64_t> index = raft_->ProposeConfig(config);
  if (!index.ok()) {
    return absl::IsFailedPrecondition(index.status()) ? NotLeader() : index.status();
  }
  auto w = std::make_shared<Waiter>();
  w->index = *index;
  w->term = raft_->term();
  proposals_[*index] = w;
  wake_.notify_one();
  return Wait(lock, w, timeout);
}

absl::Status RaftNode::AddMember(uint64_t id, const std::string& address, absl::Duration timeout) {
  Config next = Membership();
  for (const auto* list : {&next.members(), &next.learners()}) {
    for (const auto& m : *list) {
      if (m.id() == id)
        return absl::AlreadyExistsError(absl::StrCat("node ", id, " is already a member"));
    }
  }
  auto* learner = next.add_learners();
  learner->set_id(id);
  learner->set_address(address);
  return ProposeConfigAndWait(next, timeout);
}

absl::Status RaftNode::RemoveMember(uint64_t id, absl::Duration timeout) {
  if (id == options_.id && IsLeader()) {
    absl::StatusOr<uint64_t> next_leader = TransferLeadership(0, timeout);
    if (!next_leader.ok()) return next_leader.status();
    std::lock_guard<std::mutex> lock(mu_);
    return NotLeader();  // the caller retries the removal on the new leader
  }
  Config next = Membership();
  bool found = false;
  for (auto* list : {next.mutable_members(), next.mutable_learners()}) {
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).id() == id) {
        list->erase(list->begin() + i);
        found = true;
        break;
      }
    }
  }
  if (!found) return absl::NotFoundError(absl::StrCat("node ", id, " is not a member"));
  return ProposeConfigAndWait(next, timeout);
}

absl::StatusOr<uint64_t> RaftNode::TransferLeadership(uint64_t target, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || fatal_) return absl::UnavailableError("replica is not running");
  absl::StatusOr<uint64_t> to = raft_->TransferLeader(target);
  if (!to.ok()) {
    if (raft_->role() != Role::kLeader) return NotLeader();
    return to.status();
  }
  // The target will campaign with our blessing, which voters grant inside any lease: none in this
  // term from now on (a late TIMEOUT_NOW could still elect it after the hand-off was abandoned).
  no_lease_term_ = raft_->term();
  lease_until_ = {};
  MV_LOG(INFO) << "raft replica " << options_.id << " hands leadership to node " << *to;
  wake_.notify_one();
  const bool moved = progress_.wait_until(lock, Deadline(timeout), [&] {
    return stopping_ || fatal_ || (status_.leader != 0 && status_.leader != options_.id);
  });
  if (!moved || status_.leader == 0 || status_.leader == options_.id) {
    return absl::UnavailableError("leadership was not handed off in time; retry");
  }
  return status_.leader;
}

absl::StatusOr<v1::GetRaftStatusResponse> RaftNode::GroupStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!raft_ || raft_->role() != Role::kLeader) return NotLeader();
  v1::GetRaftStatusResponse out;
  out.set_leader_id(options_.id);
  out.set_leader_address(AddressOf(options_.id));
  out.set_term(raft_->term());
  out.set_commit(raft_->log().committed());
  out.set_applied(applied_);
  out.set_leader_changes(status_.leader_changes);
  const uint64_t last = raft_->log().LastIndex();
  out.set_last_index(last);
  for (const auto* list : {&raft_->config().members(), &raft_->config().learners()}) {
    for (const auto& m : *list) {
      v1::RaftMemberStatus* ms = out.add_members();
      ms->set_id(m.id());
      ms->set_address(m.address());
      ms->set_voter(list == &raft_->config().members());
      auto it = raft_->progress().find(m.id());
      const uint64_t match =
          m.id() == options_.id ? last : (it == raft_->progress().end() ? 0 : it->second.match);
      ms->set_match(match);
      ms->set_lag(last > match ? last - match : 0);
      ms->set_active(m.id() == options_.id ||
                     (it != raft_->progress().end() && it->second.recent_active));
    }
  }
  return out;
}

NodeStatus RaftNode::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

Config RaftNode::Membership() const {
  std::lock_guard<std::mutex> lock(mu_);
  return raft_ ? raft_->config() : Config{};
}

}  // namespace medvault::raft
