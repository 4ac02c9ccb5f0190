// A running Raft replica: drives the core (raft.h) from one thread with a real clock, persists
// through a LogStorage, applies to a StateMachine and talks to peers through a Transport. Services
// call Propose() to replicate a command and ReadBarrier() before a linearizable read.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "raft/log_storage.h"
#include "raft/raft.h"
#include "raft/state_machine.h"

namespace medvault::raft {

// Delivers messages to peers, best effort (Raft tolerates loss); must not block for long.
class Transport {
 public:
  virtual ~Transport() = default;
  // `address` is the peer's member address from the current configuration.
  virtual void Send(const std::string& address, std::vector<Message> messages) = 0;
};

struct NodeOptions {
  uint64_t id = 0;
  absl::Duration tick = absl::Milliseconds(100);
  int election_ticks = 10;  // 1 s with the default tick; randomised up to 2 s
  int heartbeat_ticks = 1;
  // Compact the log once this many applied entries are held.
  uint64_t compact_after_entries = 10000;
  uint64_t seed = 0;
  // Leader leases (Raft thesis 6.4.1): once a majority has acknowledged a heartbeat round the
  // leader started at time t, no other replica can be elected before t + (election_ticks - 1)
  // ticks (a follower ignores campaigns while it hears from a leader, and a restarted one for that
  // long after its start: RaftOptions::refuse_votes_at_start), so until then ReadBarrier answers
  // from this node's commit index without a round of heartbeats. The lease is measured on the
  // monotonic clock, shortened by `clock_drift_bound` (the fastest another replica's clock may run
  // relative to ours), and dropped for the rest of a term in which leadership is handed off.
  bool lease_reads = true;
  double clock_drift_bound = 0.1;
  // Addresses of peers known from configuration (flags), used until the replicated membership
  // names them: a replica that joins or lost its disk must be able to answer the leader.
  std::map<uint64_t, std::string> peers;
  // A follower behind the compacted log is sent a snapshot that carries no state (`staged`): the
  // transport streams the state beside it (GrpcTransport::set_snapshot_streamer) and the follower
  // installs it from its staging area (ReceiveSnapshot). Otherwise the whole state travels inside
  // the message (StateMachine::TakeSnapshot), as the in-memory simulation needs.
  bool stream_snapshots = false;
};

// Observable state for metrics and leader hints.
struct NodeStatus {
  uint64_t id = 0;
  uint64_t term = 0;
  Role role = Role::kFollower;
  uint64_t leader = 0;
  std::string leader_address;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t leader_changes = 0;
  uint64_t lease_reads = 0;       // ReadBarriers answered from the lease
  uint64_t read_index_reads = 0;  // ReadBarriers that took a round of heartbeats
};

// Latencies a node measured (seconds), for metrics.
struct NodeObserver {
  std::function<void(double seconds)> on_persist;    // fsync of one Ready
  std::function<void(double seconds)> on_commit;     // propose → applied, on the proposer
  std::function<void(double seconds)> on_election;   // leader lost/none → leader known
  std::function<void(const NodeStatus&)> on_status;  // after every Ready
};

class RaftNode {
 public:
  // `storage` and `machine` must outlive the node and reflect each other (the machine's applied
  // index is at least the storage's snapshot index). A new group is created by Bootstrap() before
  // Start(); a replica that joins (or rejoins after losing its disk) starts empty and waits for a
  // leader to send it a snapshot.
  RaftNode(NodeOptions options, LogStorage* storage, StateMachine* machine, Transport* transport,
           NodeObserver observer = {});
  ~RaftNode();

  // Writes the initial membership into an empty storage and a new state machine (index 0).
  // FAILED_PRECONDITION when either already holds Raft state.
  static absl::Status Bootstrap(LogStorage* storage, StateMachine* machine, const Config& config);

  absl::Status Start();
  void Stop();

  // Handles messages from a peer (called by the RaftService).
  void Receive(std::vector<Message> messages);
  // Hands the leader's SNAPSHOT message to the core once its state is staged, and waits (up to
  // `timeout`) until the core took it: installed it, or found it stale. The staged state must stay
  // put meanwhile (the caller receives no other snapshot). UNAVAILABLE when the replica stops or
  // the timeout passes.
  absl::Status ReceiveSnapshot(Message snapshot, absl::Duration timeout);

  // Replicates `command` and waits until this node applied it. UNAVAILABLE (naming the leader's
  // address when known) when this node is not the leader, loses leadership before the entry
  // commits, or `timeout` passes — in that last case the command may still commit later, so
  // commands must be safe to retry. Otherwise the state machine's result for the entry.
  absl::Status Propose(std::string command, absl::Duration timeout);
  // Returns once this node is the leader and has applied everything committed before the call, and
  // every command it proposed earlier in this term: reads served (and plans made) after it are
  // linearizable. UNAVAILABLE otherwise.
  absl::Status ReadBarrier(absl::Duration timeout);
  // Adds a learner (promoted automatically once caught up) or removes a member, one at a time.
  absl::Status AddMember(uint64_t id, const std::string& address, absl::Duration timeout);
  // Removing this node while it leads hands leadership off first and returns UNAVAILABLE naming
  // the new leader, which the caller retries on (a leader never commits its own removal).
  absl::Status RemoveMember(uint64_t id, absl::Duration timeout);
  // Hands leadership to voter `target` (0: the most caught-up other voter) and waits until another
  // node leads. UNAVAILABLE when this node does not lead or the hand-off did not complete within
  // `timeout`; FAILED_PRECONDITION when there is no other voter; INVALID_ARGUMENT for a target that
  // is not a voter. Returns the new leader's id.
  absl::StatusOr<uint64_t> TransferLeadership(uint64_t target, absl::Duration timeout);
  // The group as this leader sees it (members, their match index and lag); UNAVAILABLE naming the
  // leader when this node does not lead.
  absl::StatusOr<v1::GetRaftStatusResponse> GroupStatus() const;
  // For a backup: once this node leads and has applied everything committed before the call
  // (ReadBarrier), its state machine's state streamed to `emit` in pieces of about `piece_bytes`
  // (StateMachine::StreamSnapshot). UNAVAILABLE when it does not lead.
  absl::Status StreamBackup(absl::Duration timeout, size_t piece_bytes,
                            const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit);

  // Drops every applied entry from the log now instead of at the next compact_after_entries
  // threshold (the state machine's applied state stands in for them): the key service calls it so
  // a destroyed key's wrapped bytes do not outlive it in old log entries.
  absl::Status CompactLog();

  NodeStatus Status() const;
  bool IsLeader() const { return Status().role == Role::kLeader; }
  Config Membership() const;

 private:
  using Time = std::chrono::steady_clock::time_point;
  struct Waiter {
    uint64_t index = 0;
    uint64_t term = 0;
    uint64_t floor = 0;  // reads: also wait for this node's own earlier proposal
    Time sent{};         // reads: when the round of heartbeats was asked for
    bool done = false;
    absl::Status result;
  };

  void Loop();
  void HandleReady(Ready rd);
  void CompleteWaiters(const std::vector<Entry>& entries, const std::vector<absl::Status>& results);
  void FailWaitersOnLeaderLoss();
  absl::Status NotLeader() const;
  absl::Status Wait(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Waiter>& w,
                    absl::Duration timeout);
  absl::Status ProposeConfigAndWait(const Config& config, absl::Duration timeout);
  std::string AddressOf(uint64_t id) const;
  void PublishStatus();
  // Lease reads (NodeOptions::lease_reads); all under mu_.
  bool LeaseHolds(Time now) const;
  void ExtendLease(Time sent);
  void MaybeRenewLease(Time now);

  const NodeOptions options_;
  LogStorage* const storage_;
  StateMachine* const machine_;
  Transport* const transport_;
  const NodeObserver observer_;

  mutable std::mutex mu_;
  std::condition_variable wake_;      // the loop: messages, proposals or stop
  std::condition_variable progress_;  // waiters: something applied or leadership changed
  std::unique_ptr<Raft> raft_;
  std::deque<Message> inbox_;
  uint64_t received_ = 0;  // messages ever put in the inbox
  uint64_t settled_ = 0;   // of those, stepped and their Ready persisted
  bool stopping_ = false;
  bool fatal_ = false;
  uint64_t applied_ = 0;
  uint64_t next_read_ = 1;
  uint64_t last_proposed_index_ = 0;  // this node's latest proposal, in term last_proposed_term_
  uint64_t last_proposed_term_ = 0;
  std::map<uint64_t, std::shared_ptr<Waiter>> proposals_;  // by log index
  std::map<std::string, std::shared_ptr<Waiter>>
      reads_;                                        // by read context, until its index is known
  std::vector<std::shared_ptr<Waiter>> read_waits_;  // read index known, awaiting apply
  NodeStatus status_;
  std::chrono::steady_clock::duration lease_duration_{};
  Time lease_until_{};  // reads need no heartbeat round before this, in lease_term_
  uint64_t lease_term_ = 0;
  uint64_t no_lease_term_ = 0;                // a hand-off began in this term: no lease in it
  std::map<std::string, Time> lease_rounds_;  // renewals in flight, by read context
  uint64_t last_leader_ = 0;
  std::chrono::steady_clock::time_point leaderless_since_;
  bool leaderless_ = true;
  std::thread thread_;
};

}  // namespace medvault::raft
