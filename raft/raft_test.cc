// Scenario tests of the Raft core on a hand-driven network: each test sets up one situation the
// simulation reaches only by chance and checks the exact outcome.
#include "raft/raft.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "raft/memory_log_storage.h"

namespace medvault::raft {
namespace {

Config Members(std::initializer_list<uint64_t> ids) {
  Config c;
  for (uint64_t id : ids) {
    auto* m = c.add_members();
    m->set_id(id);
    m->set_address("node" + std::to_string(id));
  }
  return c;
}

// Nodes whose messages are delivered in order when the test says so, over links it can cut.
class Group {
 public:
  explicit Group(std::initializer_list<uint64_t> voters,
                 std::initializer_list<uint64_t> spares = {}) {
    const Config config = Members(voters);
    for (uint64_t id : voters) Add(id, &config);
    for (uint64_t id : spares) Add(id, nullptr);
  }

  void Add(uint64_t id, const Config* config) {
    auto& n = nodes_[id];
    n.storage = std::make_unique<MemoryLogStorage>();
    if (config != nullptr) {
      SnapshotMeta meta;
      *meta.mutable_config() = *config;
      (void)n.storage->InstallSnapshot(meta);
    }
    Restart(id);
  }

  void Restart(uint64_t id, bool refuse_votes_at_start = false) {
    auto& n = nodes_[id];
    RaftOptions o;
    o.id = id;
    o.refuse_votes_at_start = refuse_votes_at_start;
    o.seed = id;
    o.applied = n.applied;
    o.snapshot_source = [this, id]() -> absl::StatusOr<Snapshot> {
      auto& node = nodes_[id];
      Snapshot s;
      s.mutable_meta()->set_index(node.applied);
      s.mutable_meta()->set_term(node.raft->log().Term(node.applied));
      *s.mutable_meta()->mutable_config() = node.raft->config();
      s.set_data("state");
      return s;
    };
    n.raft = std::make_unique<Raft>(o, n.storage.get());
  }

  Raft& operator[](uint64_t id) { return *nodes_.at(id).raft; }
  MemoryLogStorage& storage(uint64_t id) { return *nodes_.at(id).storage; }
  const std::vector<std::string>& applied(uint64_t id) { return nodes_.at(id).commands; }

  void Cut(uint64_t id) { cut_.insert(id); }
  void Heal() { cut_.clear(); }

  // Processes every node's Ready and delivers the messages, until the group is quiet.
  void Settle() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (auto& [id, n] : nodes_) {
        while (n.raft->HasReady()) {
          any = true;
          Ready rd = n.raft->GetReady();
          if (rd.snapshot) {
            (void)n.storage->InstallSnapshot(rd.snapshot->meta());
            n.applied = rd.snapshot->meta().index();
            n.commands.assign(1, "<snapshot>");
          }
          (void)n.storage->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries);
          for (const Message& m : rd.messages) {
            if (!cut_.count(m.from()) && !cut_.count(m.to())) queue_.push_back(m);
          }
          for (const Entry& e : rd.committed_entries) {
            if (e.type() == v1::RAFT_ENTRY_COMMAND) n.commands.push_back(e.data());
            n.applied = e.index();
          }
          for (const ReadState& r : rd.read_states) n.reads.push_back(r);
          n.raft->Advance(rd);
        }
      }
      std::vector<Message> q = std::move(queue_);
      queue_.clear();
      for (const Message& m : q) {
        any = true;
        nodes_.at(m.to()).raft->Step(m);
      }
      if (!any) return;
    }
  }

  void Tick(int n) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) {
        if (!cut_.count(id)) node.raft->Tick();
      }
      Settle();
    }
  }

  // Campaigns `id` and lets the election finish.
  void Elect(uint64_t id) {
    nodes_.at(id).raft->Campaign();
    Settle();
  }

  std::vector<ReadState>& reads(uint64_t id) { return nodes_.at(id).reads; }
  void Compact(uint64_t id) {
    auto& n = nodes_.at(id);
    SnapshotMeta meta;
    meta.set_index(n.applied);
    meta.set_term(n.raft->log().Term(n.applied));
    *meta.mutable_config() = n.raft->config();
    ASSERT_TRUE(n.storage->Compact(meta).ok());
  }

 private:
  struct Node {
    std::unique_ptr<MemoryLogStorage> storage;
    std::unique_ptr<Raft> raft;
    uint64_t applied = 0;
    std::vector<std::string> commands;
    std::vector<ReadState> reads;
  };
  std::map<uint64_t, Node> nodes_;
  std::vector<Message> queue_;
  std::set<uint64_t> cut_;
};

TEST(Raft, ElectsOneLeaderAndReplicatesToAll) {
  Group g({1, 2, 3});
  g.Elect(1);
  ASSERT_EQ(g[1].role(), Role::kLeader);
  EXPECT_EQ(g[2].leader(), 1u);
  EXPECT_EQ(g[3].leader(), 1u);
  ASSERT_TRUE(g[1].Propose("x").ok());
  g.Settle();
  g.Tick(1);  // the heartbeat carries the commit index to the followers
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(g.applied(id), std::vector<std::string>{"x"}) << id;
}

TEST(Raft, RefusesACommandLargerThanTheEntryLimitBeforeItReachesTheLog) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Settle();
  const uint64_t last = g[1].log().LastIndex();
  absl::StatusOr<uint64_t> big = g[1].Propose(std::string(kDefaultMaxEntryBytes + 1, 'x'));
  ASSERT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument) << big.status();
  EXPECT_NE(big.status().message().find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(g[1].log().LastIndex(), last);
  ASSERT_TRUE(g[1].Propose(std::string(kDefaultMaxEntryBytes, 'x')).ok());
  g.Settle();
  g.Tick(1);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(g.applied(id).size(), 1u) << id;
}

TEST(Raft, LeaderSendsAppendsBeforePersistingButCountsItsOwnCopyOnlyAfter) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Tick(1);
  ASSERT_EQ(g[1].role(), Role::kLeader);
  ASSERT_TRUE(g[1].Propose("x").ok());
  Ready rd = g[1].GetReady();
  ASSERT_TRUE(rd.send_before_persist);
  ASSERT_EQ(rd.entries.size(), 1u);
  const uint64_t index = rd.entries[0].index();
  // Follower 2 gets the append and acknowledges it while the leader's own fsync is still running.
  for (const Message& m : rd.messages) {
    if (m.to() != 2) continue;
    g[2].Step(m);
  }
  Ready follower = g[2].GetReady();
  EXPECT_FALSE(follower.send_before_persist) << "a follower's acknowledgement waits for its fsync";
  (void)g.storage(2).Save(follower.hard_state ? &*follower.hard_state : nullptr, follower.entries);
  for (const Message& m : follower.messages) g[1].Step(m);
  g[2].Advance(follower);
  EXPECT_LT(g[1].log().committed(), index) << "one durable copy of three is no quorum";
  // The leader's fsync completes: now two copies are durable.
  (void)g.storage(1).Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries);
  g[1].Advance(rd);
  EXPECT_EQ(g[1].log().committed(), index);
}

TEST(Raft, CandidateVoteRequestsWaitForTheirPersist) {
  Group g({1, 2, 3});
  g[1].Campaign();
  Ready rd = g[1].GetReady();
  ASSERT_FALSE(rd.messages.empty());
  EXPECT_FALSE(rd.send_before_persist) << "the candidate's own vote must be durable first";
}

TEST(Raft, VoteIsPersistedBeforeTheAnswerLeaves) {
  Group g({1, 2, 3});
  Message vote;
  vote.set_type(v1::RAFT_MSG_VOTE);
  vote.set_from(2);
  vote.set_to(1);
  vote.set_term(5);
  g[1].Step(vote);
  Ready rd = g[1].GetReady();
  ASSERT_TRUE(rd.hard_state.has_value())
      << "the vote must reach disk in the same Ready as the answer";
  EXPECT_EQ(rd.hard_state->vote(), 2u);
  EXPECT_EQ(rd.hard_state->term(), 5u);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());
}

TEST(Raft, FollowerRefusesASecondCandidateInTheSameTerm) {
  Group g({1, 2, 3});
  Message vote;
  vote.set_type(v1::RAFT_MSG_VOTE);
  vote.set_from(2);
  vote.set_to(1);
  vote.set_term(5);
  g[1].Step(vote);
  vote.set_from(3);
  g[1].Step(vote);
  Ready rd = g[1].GetReady();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_FALSE(rd.messages[0].reject());
  EXPECT_TRUE(rd.messages[1].reject());
}

// The election restriction (Raft paper 5.4.1) on real votes, checked on its own: pre-vote applies
// the same rule, so an election test alone cannot tell whether the real vote still checks it.
// Node 1 holds entries 1..2 of term 2 and has just restarted (no leader, no lease); node 2 asks
// for its real vote in term 3 claiming the given last entry.
Message VoteOnceFor(uint64_t last_index, uint64_t last_term) {
  Group g({1, 2, 3});
  HardState hs;
  hs.set_term(2);
  std::vector<Entry> entries;
  for (uint64_t index : {1, 2}) {
    Entry e;
    e.set_index(index);
    e.set_term(2);
    e.set_type(v1::RAFT_ENTRY_COMMAND);
    entries.push_back(e);
  }
  EXPECT_TRUE(g.storage(1).Save(&hs, entries).ok());
  g.Restart(1);
  Message vote;
  vote.set_type(v1::RAFT_MSG_VOTE);
  vote.set_from(2);
  vote.set_to(1);
  vote.set_term(3);
  vote.set_index(last_index);
  vote.set_log_term(last_term);
  g[1].Step(vote);
  Ready rd = g[1].GetReady();
  EXPECT_EQ(rd.messages.size(), 1u);
  if (rd.messages.empty()) return Message();
  EXPECT_EQ(rd.messages[0].type(), v1::RAFT_MSG_VOTE_RESPONSE);
  const bool granted = !rd.messages[0].reject();
  EXPECT_EQ(g[1].vote(), granted ? 2u : 0u) << "a vote is recorded exactly when it is granted";
  return rd.messages[0];
}

TEST(Raft, RealVoteRefusedToACandidateWhoseLastTermIsOlder) {
  EXPECT_TRUE(VoteOnceFor(/*last_index=*/5, /*last_term=*/1).reject())
      << "a longer log of an older term is less up to date";
}

TEST(Raft, RealVoteRefusedToACandidateWithTheSameLastTermAndAShorterLog) {
  EXPECT_TRUE(VoteOnceFor(/*last_index=*/1, /*last_term=*/2).reject());
}

TEST(Raft, RealVoteGrantedToACandidateAtLeastAsUpToDate) {
  EXPECT_FALSE(VoteOnceFor(/*last_index=*/2, /*last_term=*/2).reject()) << "same last entry";
  EXPECT_FALSE(VoteOnceFor(/*last_index=*/3, /*last_term=*/2).reject()) << "same term, longer";
  EXPECT_FALSE(VoteOnceFor(/*last_index=*/1, /*last_term=*/3).reject()) << "newer term, shorter";
}

TEST(Raft, PartitionedNodeDoesNotDisruptTheLeaderWhenItReturns) {
  Group g({1, 2, 3});
  g.Elect(1);
  const uint64_t term = g[1].term();
  g.Cut(3);
  for (int i = 0; i < 100; ++i) g[3].Tick();  // campaigns alone, many times
  g.Settle();
  EXPECT_EQ(g[3].term(), term) << "pre-vote keeps an isolated node's term from growing";
  g.Heal();
  g.Tick(3);
  EXPECT_EQ(g[1].role(), Role::kLeader);
  EXPECT_EQ(g[1].term(), term);
}

TEST(Raft, UncommittedEntriesOfADeposedLeaderAreOverwritten) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Cut(1);
  ASSERT_TRUE(g[1].Propose("lost").ok());
  g.Settle();
  g.Tick(30);  // 2 and 3 stop hearing from 1, their lease runs out, one of them is elected
  const uint64_t next = g[2].role() == Role::kLeader ? 2 : 3;
  ASSERT_EQ(g[next].role(), Role::kLeader);
  ASSERT_TRUE(g[next].Propose("kept").ok());
  g.Settle();
  g.Heal();
  g.Tick(3);
  EXPECT_EQ(g[1].role(), Role::kFollower);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(g.applied(id), std::vector<std::string>{"kept"}) << id;
}

TEST(Raft, ReadIndexNeedsAQuorumOfHeartbeats) {
  Group g({1, 2, 3});
  g.Elect(1);
  ASSERT_TRUE(g[1].ReadIndex("r1").ok());
  g.Settle();
  ASSERT_EQ(g.reads(1).size(), 1u);
  EXPECT_EQ(g.reads(1)[0].context, "r1");
  EXPECT_EQ(g.reads(1)[0].index, g[1].log().committed());

  g.Cut(2);
  g.Cut(3);
  ASSERT_TRUE(g[1].ReadIndex("r2").ok());
  g.Settle();
  EXPECT_EQ(g.reads(1).size(), 1u) << "a leader cut off from the majority must not answer a read";
  EXPECT_FALSE(g[2].ReadIndex("r3").ok()) << "followers do not serve reads";
}

TEST(Raft, ReadWhoseHeartbeatsWereLostCompletesOnALaterHeartbeat) {
  // The leader's read confirmation goes out while its followers are unreachable (crashed and
  // restarting); once they are back, the periodic heartbeat must confirm the read, or it waits
  // for its caller's timeout (seen as a 5 s stall in tests/raft_failover_test).
  Group g({1, 2, 3});
  g.Elect(1);
  g.Cut(2);
  g.Cut(3);
  ASSERT_TRUE(g[1].ReadIndex("r1").ok());
  g.Settle();
  ASSERT_TRUE(g.reads(1).empty());
  g.Heal();
  g.Tick(2);
  ASSERT_EQ(g[1].role(), Role::kLeader);
  ASSERT_EQ(g.reads(1).size(), 1u) << "the read was never confirmed";
  EXPECT_EQ(g.reads(1)[0].context, "r1");
}

TEST(Raft, IsolatedLeaderStepsDownAfterAnElectionTimeout) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Cut(2);
  g.Cut(3);
  for (int i = 0; i < 25; ++i) g[1].Tick();
  EXPECT_NE(g[1].role(), Role::kLeader);
}

TEST(Raft, FollowerBehindTheCompactedLogCatchesUpFromASnapshot) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Cut(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(g[1].Propose("e" + std::to_string(i)).ok());
  g.Settle();
  g.Tick(1);
  g.Compact(1);
  g.Heal();
  g.Tick(3);
  EXPECT_EQ(g.applied(3).front(), "<snapshot>");
  EXPECT_EQ(g.storage(3).snapshot_meta().index(), g.storage(1).snapshot_meta().index());
  ASSERT_TRUE(g[1].Propose("after").ok());
  g.Settle();
  g.Tick(1);
  EXPECT_EQ(g.applied(3).back(), "after");
}

TEST(Raft, AddsAMemberThenRemovesTheLeader) {
  Group g({1, 2, 3}, {4});
  g.Elect(1);
  g.Tick(1);
  EXPECT_FALSE(g[1].ProposeConfig(Members({1, 2, 3, 4})).ok()) << "new members join as learners";
  Config with_learner = Members({1, 2, 3});
  auto* learner = with_learner.add_learners();
  learner->set_id(4);
  learner->set_address("node4");
  Config two_learners = with_learner;
  *two_learners.add_learners() = Members({5}).members(0);
  EXPECT_FALSE(g[1].ProposeConfig(two_learners).ok()) << "two changes at once";
  ASSERT_TRUE(g[1].ProposeConfig(with_learner).ok());
  g.Settle();
  g.Tick(3);
  EXPECT_TRUE(g[4].IsMember(4)) << "the leader promotes a learner that has caught up";
  EXPECT_EQ(g[4].leader(), 1u);
  ASSERT_TRUE(g[1].ProposeConfig(Members({2, 3, 4})).ok());
  g.Settle();
  g.Tick(2);
  EXPECT_NE(g[1].role(), Role::kLeader) << "a removed leader steps down once its removal commits";
  g.Tick(40);
  int leaders = 0;
  for (uint64_t id : {2, 3, 4}) leaders += g[id].role() == Role::kLeader ? 1 : 0;
  EXPECT_EQ(leaders, 1);
}

TEST(Raft, NodeThatKnowsNoGroupNeitherVotesNorCampaigns) {
  Group g({1, 2, 3}, {9});
  for (int i = 0; i < 50; ++i) g[9].Tick();
  EXPECT_EQ(g[9].role(), Role::kFollower);
  Message vote;
  vote.set_type(v1::RAFT_MSG_VOTE);
  vote.set_from(2);
  vote.set_to(9);
  vote.set_term(3);
  g[9].Step(vote);
  Ready rd = g[9].GetReady();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());
}

TEST(Raft, RestartKeepsTermVoteAndLog) {
  Group g({1, 2, 3});
  g.Elect(1);
  ASSERT_TRUE(g[1].Propose("x").ok());
  g.Settle();
  const uint64_t term = g[2].term();
  const uint64_t last = g[2].log().LastIndex();
  g.Restart(2);
  EXPECT_EQ(g[2].term(), term);
  EXPECT_EQ(g[2].vote(), 1u);
  EXPECT_EQ(g[2].log().LastIndex(), last);
}

// A replica may have acknowledged the leader's heartbeat just before it restarted, and the leader
// serves reads on that acknowledgement (node.h, lease reads) for almost an election timeout: the
// restarted replica must not vote for anyone else until that time has passed.
TEST(Raft, RestartedReplicaRefusesVotesForAnElectionTimeoutWhenAskedTo) {
  auto vote_from_2 = [](Group& g) {
    Message vote;
    vote.set_type(v1::RAFT_MSG_VOTE);
    vote.set_from(2);
    vote.set_to(3);
    vote.set_term(g[3].term() + 1);
    vote.set_index(g[3].log().LastIndex());
    vote.set_log_term(g[3].log().LastTerm());
    g[3].Step(vote);
    Ready rd = g[3].GetReady();
    g[3].Advance(rd);
    for (const Message& m : rd.messages) {
      if (m.type() == v1::RAFT_MSG_VOTE_RESPONSE) return !m.reject();
    }
    return false;  // ignored
  };
  for (bool guard : {false, true}) {
    Group g({1, 2, 3});
    g.Elect(1);
    g.Restart(3, guard);
    const int ticks = 9;  // election_ticks - 1 with the default of 10
    for (int i = 0; i < ticks - 1; ++i) g[3].Tick();
    EXPECT_EQ(vote_from_2(g), !guard) << "guard " << guard;
    g[3].Tick();
    EXPECT_TRUE(vote_from_2(g)) << "after the guard (" << guard << ") the vote is granted";
  }
}

// The voters heard from leader 1 a moment ago (their lease holds), yet grant node 2's campaign:
// leader 1 asked for it (TIMEOUT_NOW), after bringing node 2's log up to date.
TEST(Raft, TransferLeaderHandsOffToALaggingVoterInsideTheLease) {
  Group g({1, 2, 3});
  g.Elect(1);
  g.Cut(2);
  ASSERT_TRUE(g[1].Propose("x").ok());
  g.Settle();
  g.Heal();
  const uint64_t term = g[1].term();
  ASSERT_EQ(*g[1].TransferLeader(2), 2u);
  EXPECT_TRUE(absl::IsFailedPrecondition(g[1].Propose("refused").status()))
      << "no new proposals while handing off";
  g.Settle();
  EXPECT_EQ(g[2].role(), Role::kLeader);
  EXPECT_EQ(g[2].term(), term + 1);
  EXPECT_EQ(g[1].leader(), 2u);
  EXPECT_EQ(g[3].leader(), 2u);
  ASSERT_TRUE(g[2].Propose("y").ok());
  g.Settle();
  g.Tick(1);
  EXPECT_EQ(g.applied(1), (std::vector<std::string>{"x", "y"}));
}

TEST(Raft, TransferLeaderPicksTheMostCaughtUpVoterAndIsAbandonedWhenItStaysSilent) {
  Group g({1, 2, 3});
  g.Elect(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(g[2].TransferLeader(3).status())) << "not the leader";
  EXPECT_TRUE(absl::IsInvalidArgument(g[1].TransferLeader(1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(g[1].TransferLeader(7).status()));
  g.Cut(3);
  ASSERT_TRUE(g[1].Propose("x").ok());
  g.Settle();
  g.Heal();
  EXPECT_EQ(*g[1].TransferLeader(0), 2u) << "node 2 holds x, node 3 does not";
  g.Cut(2);  // the TIMEOUT_NOW is lost
  g.Settle();
  EXPECT_FALSE(g[1].Propose("y").ok());
  g.Heal();
  for (int i = 0; i < 10 && g[1].lead_transferee() != 0; ++i) g[1].Tick();
  EXPECT_EQ(g[1].role(), Role::kLeader);
  EXPECT_TRUE(g[1].Propose("y").ok()) << "the hand-off gave up after an election timeout";
}

}  // namespace
}  // namespace medvault::raft
