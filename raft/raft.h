// The Raft consensus core: a deterministic state machine with no threads, clocks, sockets or disks.
// A driver feeds it ticks, peer messages and proposals, and drains Ready(): what to persist, what
// to send, what to apply. The same code runs in production (raft/node.h) and in the seeded
// simulation (tests/raft_sim_test.cc).
//
// Implements leader election with pre-vote and check-quorum, pipelined and batched log replication,
// snapshots for followers that fell behind the compacted log, single-member configuration changes,
// and ReadIndex linearizable reads.
//
// Thread safety: none; the driver serialises every call.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raft_log.h"

namespace medvault::raft {

using Message = medvault::v1::RaftMessage;
using Config = medvault::v1::RaftConfig;

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

// RaftOptions::max_entry_bytes unless set: a quarter of the gRPC message limit (common/rpc.h).
inline constexpr uint64_t kDefaultMaxEntryBytes = 16 << 20;

struct RaftOptions {
  uint64_t id = 0;  // this node; non-zero
  // Ticks without hearing from a leader before campaigning (randomised to [n, 2n)).
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  uint64_t max_bytes_per_message = 1 << 20;
  // Largest command Propose accepts: a bigger one is refused before it reaches the log, where it
  // would be written, sent and applied by every member (and could exceed a gRPC message).
  uint64_t max_entry_bytes = kDefaultMaxEntryBytes;
  // Append messages in flight per follower before waiting for acknowledgements (pipelining).
  int max_inflight = 64;
  // Index the state machine has applied (durably) before this start.
  uint64_t applied = 0;
  // Produces a snapshot of the state machine for a follower behind the compacted log. May fail
  // (e.g. busy); the leader tries again later.
  std::function<absl::StatusOr<Snapshot>()> snapshot_source;
  uint64_t seed = 0;  // election-timeout randomness
  // Refuse votes (other than for a hand-off this group's leader started) for election_ticks - 1
  // ticks after this start, as if a leader had just been heard: a replica that acknowledged a
  // heartbeat and restarted at once must not help elect a new leader while the old one's read lease
  // (node.h, NodeOptions::lease_reads) may still run.
  bool refuse_votes_at_start = false;
};

// A read that may be served once the state machine has applied `index`.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

// Everything the driver must act on, in this order: persist snapshot, hard state and entries
// (fsync); then send messages; then apply committed entries; then call Advance().
struct Ready {
  std::optional<HardState> hard_state;  // set when changed
  std::vector<Entry> entries;           // to append durably
  std::optional<Snapshot> snapshot;     // to install (storage and state machine) before entries
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  // The messages may leave before `entries` (and a commit-only `hard_state`) are durable: set
  // for a leader whose term and vote are already on disk. Its appends and heartbeats depend on
  // nothing it has not persisted, and it counts its own copy of an entry toward the commit only
  // in Advance, after the driver has persisted it (Raft thesis, 10.2.1: the leader's fsync runs
  // beside its followers'). Otherwise messages wait for the persist: a follower's acknowledgement
  // and a vote must never leave before what they promise is durable.
  bool send_before_persist = false;

  bool empty() const {
    return !hard_state && entries.empty() && !snapshot && messages.empty() &&
           committed_entries.empty() && read_states.empty();
  }
};

// Leader's view of one follower.
struct Progress {
  enum class State { kProbe, kReplicate, kSnapshot };
  uint64_t match = 0;
  uint64_t next = 1;
  State state = State::kProbe;
  bool probe_sent = false;        // kProbe: one append in flight, wait for the answer
  std::deque<uint64_t> inflight;  // kReplicate: last index of each unacknowledged append
  uint64_t pending_snapshot = 0;  // kSnapshot: index of the snapshot sent
  int snapshot_ticks = 0;         // kSnapshot: ticks since it was sent
  bool recent_active = false;
};

class Raft {
 public:
  // Reads hard state, membership and log from `storage` (which must outlive this object).
  Raft(RaftOptions options, LogStorage* storage);

  // Advances logical time by one tick.
  void Tick();
  // Handles a message from a peer. Stale or unexpected messages are dropped.
  void Step(const Message& m);
  // Appends a command; FAILED_PRECONDITION when not the leader, INVALID_ARGUMENT when it is longer
  // than max_entry_bytes. Returns the entry's index.
  absl::StatusOr<uint64_t> Propose(std::string data);
  // Proposes a new membership differing from the current one in exactly one member: a learner
  // added, a learner promoted to voter, or a voter or learner removed. New members should join as
  // learners: the leader promotes a learner itself once it has caught up with the commit index.
  absl::StatusOr<uint64_t> ProposeConfig(const Config& config);
  // Starts a linearizable read; a ReadState carrying `context` appears in a later Ready.
  absl::Status ReadIndex(std::string context);
  // Starts an election now (tests, leadership hand-off).
  void Campaign();
  // Hands leadership to voter `target` (0: the other voter holding the most of the log): refuses
  // proposals meanwhile, brings the target up to date, then tells it to campaign at once
  // (TIMEOUT_NOW), which it wins unless a voter's log is ahead of it. Abandoned after an election
  // timeout. FAILED_PRECONDITION when not the leader or there is no other voter, INVALID_ARGUMENT
  // when `target` is not a voter. Returns the target.
  absl::StatusOr<uint64_t> TransferLeader(uint64_t target);
  uint64_t lead_transferee() const { return lead_transferee_; }

  bool HasReady() const;
  Ready GetReady();
  // The driver did everything `ready` asked.
  void Advance(const Ready& ready);

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t leader() const { return lead_; }
  Role role() const { return role_; }
  const Config& config() const { return config_; }
  const RaftLog& log() const { return log_; }
  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  bool IsMember(uint64_t id) const;  // a voter
  bool IsLearner(uint64_t id) const;

 private:
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void StartCampaign(bool pre_vote, bool transfer = false);
  void TickElection();
  void TickHeartbeat();

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeatResponse(const Message& m);

  void Send(Message m);
  void SendAppend(uint64_t to, bool send_if_empty = true);
  void SendHeartbeat(uint64_t to, const std::string& context);
  void BroadcastAppend();
  void BroadcastHeartbeat(const std::string& context);
  bool MaybeCommit();
  void AppendEntry(v1::RaftEntryType type, std::string data);
  void ReleaseReads();
  bool CommittedInTerm() const { return log_.Term(log_.committed()) == term_; }

  size_t Quorum() const { return config_.members_size() / 2 + 1; }
  void ApplyConfig(const Config& config);
  void RebuildConfig();
  // After entries at or above `from` changed: forget config entries no longer in the log and record
  // those among `entries` that are.
  void ReconcileConfigEntries(uint64_t from, const std::vector<Entry>& entries);
  void StartRead(std::string context);
  void MaybePromote(uint64_t learner);
  // Sends TIMEOUT_NOW to the transferee once it holds the whole log.
  void MaybeSendTimeoutNow(uint64_t to);

  const RaftOptions options_;
  const uint64_t id_;
  LogStorage* const storage_;
  RaftLog log_;
  std::mt19937_64 rng_;

  uint64_t term_ = 0;
  uint64_t vote_ = 0;
  uint64_t lead_ = 0;
  Role role_ = Role::kFollower;
  HardState prev_hard_state_;

  Config config_;
  // Config entries in the log after the storage snapshot (index → config), so a truncation can
  // roll the membership back.
  std::map<uint64_t, std::pair<uint64_t, Config>> config_entries_;  // index → (term, config)
  Config base_config_;  // membership as of the snapshot the log follows
  uint64_t pending_config_index_ = 0;
  uint64_t lead_transferee_ = 0;  // leader: the voter leadership is being handed to
  int transfer_elapsed_ = 0;      // ticks since the hand-off started

  std::map<uint64_t, Progress> progress_;
  std::map<uint64_t, bool> votes_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  int start_vote_guard_ = 0;  // ticks left of refuse_votes_at_start

  // ReadIndex requests in order: context → (index, acks).
  struct PendingRead {
    std::string context;
    uint64_t index;
    std::set<uint64_t> acks;
  };
  std::deque<PendingRead> pending_reads_;
  std::vector<std::string> reads_awaiting_commit_;  // before the leader committed in its term
  std::vector<ReadState> read_states_;
  std::vector<Message> msgs_;
};

}  // namespace medvault::raft
