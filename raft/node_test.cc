// In-process groups of real RaftNodes: RocksDB on disk, gRPC over loopback, real time. Tests wait
// for events reported by the nodes (status callbacks), never for fixed sleeps.
#include "raft/node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"

#include "raft/testing/local_group.h"

namespace medvault::raft {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);
using Group = testing::LocalGroup;

TEST(RaftNode, ReplicatesThroughTheLeaderAndRefusesOnFollowers) {
  Group g;
  const uint64_t leader = g.WaitForLeader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(g.Put(leader, "k", "v").ok());
  ASSERT_TRUE(g.node(leader).ReadBarrier(kTimeout).ok());
  EXPECT_EQ(*g.kv(leader).Get("data", "k"), "v");

  const uint64_t follower = leader % 3 + 1;
  // A majority holds the write, which need not include this follower yet: wait until it has heard
  // from the leader, so its refusal can name it.
  ASSERT_TRUE(g.WaitFor([&] { return g.node(follower).Status().leader == leader; }));
  absl::Status refused = g.Put(follower, "k", "w");
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_NE(refused.message().find("leader is 127.0.0.1:"), std::string::npos) << refused;
  EXPECT_TRUE(absl::IsUnavailable(g.node(follower).ReadBarrier(kTimeout)));
  // Every replica applies the write.
  EXPECT_TRUE(g.WaitFor([&] {
    for (uint64_t id : {1, 2, 3}) {
      absl::StatusOr<std::string> v = g.kv(id).Get("data", "k");
      if (!v.ok() || *v != "v") return false;
    }
    return true;
  }));
}

TEST(RaftNode, SurvivesTheLeaderStoppingAndTheOldLeaderCatchesUp) {
  Group g;
  const uint64_t first = g.WaitForLeader();
  ASSERT_TRUE(g.Put(first, "a", "1").ok());
  g.Stop(first);
  const uint64_t second = g.WaitForLeader();
  ASSERT_NE(second, 0u);
  ASSERT_NE(second, first);
  ASSERT_TRUE(g.Put(second, "b", "2").ok());
  ASSERT_TRUE(
      g.Start(first, /*bootstrap=*/true).ok());  // not empty: bootstrap is skipped, state is kept
  EXPECT_TRUE(g.WaitFor([&] {
    absl::StatusOr<std::string> b = g.kv(first).Get("data", "b");
    return b.ok() && *b == "2";
  }));
  EXPECT_EQ(*g.kv(first).Get("data", "a"), "1");
}

// Stops a follower of `leader`, deletes its database and starts it empty; returns its id.
uint64_t WipeAFollower(Group& g, uint64_t leader) {
  const uint64_t wiped = leader % 3 + 1;
  g.Stop(wiped);
  g.Wipe(wiped);
  EXPECT_TRUE(g.Start(wiped, /*bootstrap=*/false).ok());
  return wiped;
}

TEST(RaftNode, WipedReplicaRejoinsFromASnapshot) {
  Group g({/*replicas=*/3, /*compact_after=*/5});
  const uint64_t leader = g.WaitForLeader();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(g.Put(leader, "k" + std::to_string(i), "v").ok());
  ASSERT_GT(g.storage(leader).FirstIndex(), 1u)
      << "the leader's log must be compacted for this test";
  const uint64_t wiped = WipeAFollower(g, leader);
  EXPECT_TRUE(g.WaitFor([&] {
    absl::StatusOr<std::string> v = g.kv(wiped).Get("data", "k29");
    return v.ok() && *v == "v";
  }));
  EXPECT_GT(g.storage(wiped).snapshot_meta().index(), 0u)
      << "caught up from a snapshot, not the log";
  EXPECT_EQ(g.machine(wiped).Applied().config().members_size(), 3);
}

// Batches above stream_above_bytes (here 256 bytes; 8 MiB in production, where a snapshot can
// exceed gRPC's 64 MiB message cap) travel as pieces through SendLarge: the snapshot of 30 values
// of 1 KiB arrives in over a hundred pieces, and so do the appends.
TEST(RaftNode, LargeBatchesAndSnapshotsAreStreamedInPieces) {
  testing::LocalGroupOptions options;
  options.compact_after = 5;
  options.stream_above_bytes = 256;
  Group g(options);
  const uint64_t leader = g.WaitForLeader();
  const std::string value(1024, 'v');
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(g.Put(leader, "k" + std::to_string(i), value).ok());
  const uint64_t wiped = WipeAFollower(g, leader);
  EXPECT_TRUE(g.WaitFor([&] {
    absl::StatusOr<std::string> v = g.kv(wiped).Get("data", "k29");
    return v.ok() && *v == value;
  }));
  EXPECT_GT(g.storage(wiped).snapshot_meta().index(), 0u)
      << "caught up from a snapshot, not the log";
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(g.kv(wiped).Get("data", "k" + std::to_string(i)).value_or(""), value);
  EXPECT_GT(g.large_batches_received(wiped), 0u) << "the snapshot did not come through SendLarge";
}

// NodeOptions::stream_snapshots, as every replicated service runs: the snapshot message carries
// no state; the leader streams its state through RaftService.InstallSnapshot in 1 MiB pieces read
// from one RocksDB view, and the follower stages them and switches them in. Writes go on while it
// catches up, so the view is taken at a later index than the message named.
TEST(RaftNode, WipedReplicaRejoinsFromAStreamedSnapshotWhileWritesGoOn) {
  testing::LocalGroupOptions options;
  options.compact_after = 5;
  options.stream_snapshots = true;
  Group g(options);
  const uint64_t leader = g.WaitForLeader();
  const std::string value(64 << 10, 'v');  // 40 values: a state of a few pieces
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(g.Put(leader, "k" + std::to_string(i), value).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    while (!stop.load()) {
      if (g.Put(leader, "w" + std::to_string(written.load()), "x").ok()) written.fetch_add(1);
    }
  });
  const uint64_t wiped = WipeAFollower(g, leader);
  const bool caught_up = g.WaitFor(
      [&] { return g.snapshots_sent(leader) > 0 && g.kv(wiped).Get("data", "k39").ok(); });
  stop = true;
  writer.join();
  ASSERT_TRUE(caught_up);
  ASSERT_TRUE(g.Put(leader, "last", "1").ok());
  EXPECT_TRUE(g.WaitFor([&] { return g.kv(wiped).Get("data", "last").ok(); }));
  EXPECT_GT(g.storage(wiped).snapshot_meta().index(), 0u)
      << "caught up from a snapshot, not the log";
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(g.kv(wiped).Get("data", "k" + std::to_string(i)).value_or(""), value);
  for (int i = 0; i < written.load(); ++i)
    EXPECT_EQ(g.kv(wiped).Get("data", "w" + std::to_string(i)).value_or(""), "x") << i;
  EXPECT_EQ(g.large_batches_received(wiped), 0u);
  EXPECT_EQ(g.machine(wiped).Applied().config().members_size(), 3);
}

// A transfer cut short (here the leader's read fails after 2 of its pieces were sent) leaves the
// follower's old state and position as they were, visible while the pieces are staged; the leader
// starts over and the next, complete transfer is switched in.
TEST(RaftNode, AnInterruptedSnapshotTransferLeavesTheOldStateAndStartsOver) {
  std::atomic<bool> armed{false}, cut{false};
  std::atomic<int> attempts{0};
  std::function<void()> at_cut;
  testing::LocalGroupOptions options;
  options.compact_after = 5;
  options.stream_snapshots = true;
  options.wrap_streamer = [&](SnapshotStreamer inner) -> SnapshotStreamer {
    return [&, inner](size_t piece_bytes,
                      const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
      attempts.fetch_add(1);
      int pieces = 0;
      return inner(piece_bytes, [&](const v1::RaftBackupPiece& piece) -> absl::Status {
        absl::Status sent = emit(piece);
        if (!sent.ok() || ++pieces < 2 || !armed.load() || cut.exchange(true)) return sent;
        at_cut();
        return absl::InternalError("cut by the test");
      });
    };
  };
  Group g(options);
  const uint64_t leader = g.WaitForLeader();
  const uint64_t behind = leader % 3 + 1;
  ASSERT_TRUE(g.Put(leader, "old", "1").ok());
  ASSERT_TRUE(g.WaitFor([&] { return g.kv(behind).Get("data", "old").ok(); }));
  g.Isolate(behind, true);
  const std::string value(64 << 10, 'v');  // 5 MiB: 6 pieces
  for (int i = 0; i < 80; ++i) ASSERT_TRUE(g.Put(leader, "k" + std::to_string(i), value).ok());
  ASSERT_TRUE(g.Put(leader, "old", "2").ok());
  ASSERT_GT(g.storage(leader).FirstIndex(), g.machine(behind).Applied().index() + 1)
      << "the leader's log must be compacted past the follower's";
  const uint64_t old_applied = g.machine(behind).Applied().index();
  bool old_state_at_cut = false;
  at_cut = [&] {
    old_state_at_cut = g.kv(behind).Get("data", "old").value_or("") == "1" &&
                       !g.kv(behind).Get("data", "k0").ok() &&
                       g.machine(behind).Applied().index() == old_applied;
  };
  armed = true;
  g.Isolate(behind, false);
  EXPECT_TRUE(g.WaitFor([&] { return g.kv(behind).Get("data", "old").value_or("") == "2"; }));
  EXPECT_TRUE(cut.load()) << "no transfer was cut";
  EXPECT_TRUE(old_state_at_cut) << "the follower's state changed before a transfer completed";
  EXPECT_GE(attempts.load(), 2);
  for (int i = 0; i < 80; ++i)
    EXPECT_EQ(g.kv(behind).Get("data", "k" + std::to_string(i)).value_or(""), value);
}

TEST(RaftNode, AddsAndRemovesAMember) {
  Group g;
  const uint64_t leader = g.WaitForLeader();
  ASSERT_TRUE(g.Put(leader, "x", "1").ok());
  const uint64_t victim = leader % 3 + 1;
  ASSERT_TRUE(g.node(leader).RemoveMember(victim, kTimeout).ok());
  EXPECT_EQ(g.node(leader).Membership().members_size(), 2);
  EXPECT_TRUE(absl::IsNotFound(g.node(leader).RemoveMember(victim, kTimeout)));
  ASSERT_TRUE(g.Put(leader, "y", "2").ok()) << "two of two still commit";
}

TEST(RaftNode, HandsLeadershipOffAndReportsTheGroup) {
  Group g;
  const uint64_t leader = g.WaitForLeader();
  ASSERT_TRUE(g.Put(leader, "x", "1").ok());
  const uint64_t follower = leader % 3 + 1;
  EXPECT_TRUE(absl::IsUnavailable(g.node(follower).GroupStatus().status()));
  absl::StatusOr<v1::GetRaftStatusResponse> status = g.node(leader).GroupStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->leader_id(), leader);
  ASSERT_EQ(status->members_size(), 3);
  for (const auto& m : status->members()) EXPECT_TRUE(m.voter());

  absl::StatusOr<uint64_t> next = g.node(leader).TransferLeadership(follower, kTimeout);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, follower);
  EXPECT_EQ(g.WaitForLeader(), follower);
  ASSERT_TRUE(g.Put(follower, "y", "2").ok());

  // Removing the leader itself hands off first; the caller retries on the new leader.
  absl::Status removed = g.node(follower).RemoveMember(follower, kTimeout);
  EXPECT_TRUE(absl::IsUnavailable(removed)) << removed;
  const uint64_t third = g.WaitForLeader();
  ASSERT_NE(third, follower);
  // A new leader takes membership changes once its first entry commits: UNAVAILABLE until then.
  absl::Status retried;
  EXPECT_TRUE(g.WaitFor([&] {
    retried = g.node(third).RemoveMember(follower, kTimeout);
    return !absl::IsUnavailable(retried);
  }));
  ASSERT_TRUE(retried.ok()) << retried;
  EXPECT_EQ(g.node(third).Membership().members_size(), 2);
}

// Reads on a leader holding its lease take no round of heartbeats; with leases off, each does.
TEST(RaftNode, LeaderAnswersReadsFromItsLease) {
  for (bool lease : {true, false}) {
    testing::LocalGroupOptions o;
    o.lease_reads = lease;
    Group g(o);
    const uint64_t leader = g.WaitForLeader();
    ASSERT_NE(leader, 0u);
    ASSERT_TRUE(g.Put(leader, "k", "v").ok());
    // The first read takes a round and starts the lease; those after it (well within the lease on
    // an idle machine, and renewed in the background) need none.
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(g.node(leader).ReadBarrier(kTimeout).ok());
    const NodeStatus st = g.node(leader).Status();
    EXPECT_EQ(st.lease_reads + st.read_index_reads, 200u);
    if (lease) {
      EXPECT_GT(st.lease_reads, 0u);
    } else {
      EXPECT_EQ(st.lease_reads, 0u);
    }
  }
}

// The safety of the lease: a leader cut off from its group must stop answering reads before the
// others can elect a new leader and commit a write it has not seen. A reader hammers the old
// leader while the group moves on; no read that began after the new write was acknowledged may
// succeed there (it would return the old value).
TEST(RaftNode, IsolatedLeaderAnswersNoReadAfterANewLeaderWrote) {
  Group g;
  const uint64_t old_leader = g.WaitForLeader();
  ASSERT_NE(old_leader, 0u);
  ASSERT_TRUE(g.Put(old_leader, "k", "1").ok());
  ASSERT_TRUE(g.node(old_leader).ReadBarrier(kTimeout).ok());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> write_acknowledged_ns{INT64_MAX};
  std::atomic<int> stale_reads{0};
  std::atomic<int> reads_served{0};
  std::thread reader([&] {
    while (!stop) {
      const int64_t began = absl::GetCurrentTimeNanos();
      if (!g.node(old_leader).ReadBarrier(absl::Milliseconds(50)).ok()) continue;
      ++reads_served;
      if (began > write_acknowledged_ns && g.kv(old_leader).Get("data", "k").value_or("") == "1")
        ++stale_reads;
    }
  });
  g.Isolate(old_leader, true);
  uint64_t new_leader = 0;
  ASSERT_TRUE(g.WaitFor([&] {
    for (uint64_t id : {1, 2, 3}) {
      if (id != old_leader && g.node(id).IsLeader()) new_leader = id;
    }
    return new_leader != 0;
  }));
  ASSERT_TRUE(g.Put(new_leader, "k", "2").ok());
  write_acknowledged_ns = absl::GetCurrentTimeNanos();
  // Keep reading on the old leader until it knows it lost the group.
  EXPECT_TRUE(g.WaitFor([&] { return !g.node(old_leader).IsLeader(); }));
  stop = true;
  reader.join();
  EXPECT_EQ(stale_reads, 0) << "the old leader served a stale read from its lease";
  EXPECT_GT(reads_served, 0) << "the reader never got a read through";
  g.Isolate(old_leader, false);
  EXPECT_TRUE(g.WaitFor([&] { return g.kv(old_leader).Get("data", "k").value_or("") == "2"; }));
}

}  // namespace
}  // namespace medvault::raft
