// A snapshot streamed from a leader (the backup's piece format) is staged beside the live state
// and switched in only when complete: an interrupted or short stream leaves the old state and
// position untouched, and a crash in the middle of the switch comes back as the whole new state
// when the state machine reopens, never a part of it.
#include <rocksdb/write_batch.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/testing/temp_dir.h"
#include "raft/kv_state_machine.h"
#include "raft/node.h"
#include "raft/rocks_log_storage.h"
#include "raft/testing/kv_machine.h"

namespace medvault::raft {
namespace {

constexpr size_t kPieceBytes = 64 << 10;

struct Machine : testing::KvMachine {
  using KvMachine::KvMachine;
  std::vector<v1::RaftBackupPiece> Pieces() {
    std::vector<v1::RaftBackupPiece> pieces;
    absl::Status s = machine->StreamSnapshot(kPieceBytes, [&](const v1::RaftBackupPiece& p) {
      pieces.push_back(p);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return pieces;
  }
};

Snapshot Staged(const SnapshotMeta& meta) {
  Snapshot snap;
  *snap.mutable_meta() = meta;
  snap.set_staged(true);
  return snap;
}

class SnapshotStagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The leader: ~10 MiB, so the pieces are many and the switch takes several batches.
    for (int i = 0; i < 2500; ++i)
      leader_.Put(i % 2 ? "a" : "b", absl::StrCat("k", 10000 + i), std::string(4096, 'a' + i % 26));
    // The follower's old state.
    for (int i = 0; i < 10; ++i) follower_.Put("a", absl::StrCat("old", i), "x");
    old_a_ = follower_.Dump("a");
    old_applied_ = follower_.machine->Applied().index();
    pieces_ = leader_.Pieces();
    ASSERT_GT(pieces_.size(), 100u);
    meta_ = pieces_.front().meta();
  }
  void Stage(size_t count) {
    SnapshotStaging* staging = follower_.machine->staging();
    ASSERT_TRUE(staging->Begin().ok());
    for (size_t i = 0; i < count; ++i) {
      absl::StatusOr<bool> added = staging->Add(pieces_[i]);
      ASSERT_TRUE(added.ok()) << added.status();
      EXPECT_EQ(*added, i + 1 == pieces_.size()) << i;
    }
  }
  void ExpectOldState() {
    EXPECT_EQ(follower_.Dump("a"), old_a_);
    EXPECT_EQ(follower_.Count("b"), 0u);
    EXPECT_EQ(follower_.machine->Applied().index(), old_applied_);
  }
  void ExpectNewState() {
    EXPECT_EQ(follower_.Dump("a"), leader_.Dump("a"));
    EXPECT_EQ(follower_.Dump("b"), leader_.Dump("b"));
    EXPECT_EQ(follower_.machine->Applied().index(), meta_.index());
    EXPECT_EQ(follower_.Count(kRaftStagingCf), 0u) << "the staged copy stays behind";
  }

  medvault::testing::TempDir dir_;
  Machine leader_{dir_.path() + "/leader"};
  Machine follower_{dir_.path() + "/follower"};
  std::string old_a_;
  uint64_t old_applied_ = 0;
  std::vector<v1::RaftBackupPiece> pieces_;
  SnapshotMeta meta_;
};

TEST_F(SnapshotStagingTest, CompleteStreamIsInvisibleUntilSwitchedIn) {
  bool restored = false;
  follower_.machine->set_on_restore([&] { restored = true; });
  Stage(pieces_.size());
  ExpectOldState();  // staged, not yet visible
  ASSERT_TRUE(follower_.machine->Restore(Staged(meta_)).ok());
  ExpectNewState();
  EXPECT_TRUE(restored);
  follower_.Reopen();
  ExpectNewState();
}

TEST_F(SnapshotStagingTest, InterruptedOrShortStreamLeavesTheOldState) {
  // Cut in the middle: nothing complete is staged, the switch is refused.
  Stage(pieces_.size() / 2);
  absl::Status refused = follower_.machine->Restore(Staged(meta_));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  ExpectOldState();
  follower_.Reopen();  // a restart mid-stream too
  ExpectOldState();
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_.machine->Restore(Staged(meta_))));

  // A last piece counting records that never came (a piece lost) is DATA_LOSS.
  SnapshotStaging* staging = follower_.machine->staging();
  ASSERT_TRUE(staging->Begin().ok());
  for (size_t i = 0; i + 1 < pieces_.size(); ++i) {
    if (i == 3) continue;
    ASSERT_TRUE(staging->Add(pieces_[i]).ok());
  }
  EXPECT_TRUE(absl::IsDataLoss(staging->Add(pieces_.back()).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_.machine->Restore(Staged(meta_))));
  ExpectOldState();

  // Out of place or foreign pieces are refused.
  ASSERT_TRUE(staging->Begin().ok());
  EXPECT_TRUE(absl::IsInvalidArgument(staging->Add(pieces_[1]).status())) << "no position first";
  ASSERT_TRUE(staging->Begin().ok());
  v1::RaftBackupPiece foreign = pieces_.front();
  foreign.mutable_writes(0)->set_cf(kRaftMetaCf);
  EXPECT_TRUE(absl::IsInvalidArgument(staging->Add(foreign).status()));
  ExpectOldState();

  // A later complete stream still installs.
  Stage(pieces_.size());
  ASSERT_TRUE(follower_.machine->Restore(Staged(meta_)).ok());
  ExpectNewState();
}

TEST_F(SnapshotStagingTest, CrashBeforeTheSwitchKeepsTheOldState) {
  Stage(pieces_.size());
  follower_.Reopen();  // killed after staging, before the core took the snapshot
  ExpectOldState();
  ASSERT_TRUE(follower_.machine->Restore(Staged(meta_)).ok()) << "the staged state survives";
  ExpectNewState();
}

TEST_F(SnapshotStagingTest, CrashInTheMiddleOfTheSwitchComesBackAsTheWholeNewState) {
  Stage(pieces_.size());
  follower_.machine->staging()->FailInstallAfterBatchesForTest(1);
  EXPECT_FALSE(follower_.machine->Restore(Staged(meta_)).ok());
  // Part of the new state is in the column families now; the reopen finishes the copy.
  const size_t partial = follower_.Count("a") + follower_.Count("b");
  EXPECT_GT(partial, 0u);
  EXPECT_LT(partial, 2500u);
  follower_.Reopen();
  ExpectNewState();
}

// The switch happened (or a restart finished it) but the replica stopped before its Raft log
// recorded the snapshot: the next start makes the log follow the state machine's position, so
// the replica does not hold a state past the end of its own log.
TEST_F(SnapshotStagingTest, ALogThatMissedTheSnapshotFollowsItAtTheNextStart) {
  class NoTransport : public Transport {
   public:
    void Send(const std::string&, std::vector<Message>) override {}
  };
  Stage(pieces_.size());
  ASSERT_TRUE(follower_.machine->Restore(Staged(meta_)).ok());
  absl::StatusOr<std::unique_ptr<RocksLogStorage>> storage =
      RocksLogStorage::Open(follower_.kv.get());
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_LT((*storage)->LastIndex(), meta_.index());
  NoTransport transport;
  NodeOptions options;
  options.id = 2;
  RaftNode node(options, storage->get(), follower_.machine.get(), &transport);
  ASSERT_TRUE(node.Start().ok());
  node.Stop();
  EXPECT_EQ((*storage)->snapshot_meta().index(), meta_.index());
  EXPECT_EQ((*storage)->LastIndex(), meta_.index());
  EXPECT_EQ((*storage)->snapshot_meta().config().members_size(), meta_.config().members_size());
}

}  // namespace
}  // namespace medvault::raft
