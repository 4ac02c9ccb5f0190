#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include "raft/memory_log_storage.h"

namespace medvault::raft {
namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

TEST(RaftLog, AppendsAfterStorageAndSlicesAcrossBoth) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Save(nullptr, {E(1, 1), E(2, 1)}).ok());
  RaftLog log(&storage, 0);
  EXPECT_EQ(log.LastIndex(), 2u);
  log.Append({E(3, 2), E(4, 2)});
  EXPECT_EQ(log.LastIndex(), 4u);
  EXPECT_EQ(log.Term(3), 2u);
  std::vector<Entry> all = log.Slice(1, 5, 1 << 20);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].index(), 4u);
  EXPECT_EQ(log.unstable_entries().size(), 2u);
}

TEST(RaftLog, ConflictingEntriesReplaceTheSuffixButNeverCommittedOnes) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Save(nullptr, {E(1, 1), E(2, 1), E(3, 1)}).ok());
  RaftLog log(&storage, 0);
  // Leader of term 2 holds (1,1) and then its own entries 2 and 3.
  std::optional<uint64_t> last = log.MaybeAppend(1, 1, 1, {E(2, 2), E(3, 2)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 3u);
  EXPECT_EQ(log.Term(2), 2u);
  EXPECT_EQ(log.committed(), 1u);
  // An append that does not follow an entry we hold is refused.
  EXPECT_FALSE(log.MaybeAppend(7, 2, 1, {E(8, 2)}).has_value());
  EXPECT_FALSE(log.MaybeAppend(3, 9, 1, {E(4, 9)}).has_value());
}

TEST(RaftLog, OnlyDurableCommittedEntriesAreApplied) {
  MemoryLogStorage storage;
  RaftLog log(&storage, 0);
  log.Append({E(1, 1, "a"), E(2, 1, "b")});
  log.CommitTo(2);
  EXPECT_TRUE(log.NextCommitted(1 << 20).empty()) << "not yet persisted";
  ASSERT_TRUE(storage.Save(nullptr, log.unstable_entries()).ok());
  log.StableTo(2, 1);
  ASSERT_EQ(log.NextCommitted(1 << 20).size(), 2u);
  log.AppliedTo(2);
  EXPECT_FALSE(log.HasNextCommitted());
}

TEST(RaftLog, StableToIgnoresEntriesReplacedMeanwhile) {
  MemoryLogStorage storage;
  RaftLog log(&storage, 0);
  log.Append({E(1, 1)});
  log.Append({E(1, 2)});  // replaced before the driver reported (1,1) durable
  log.StableTo(1, 1);
  EXPECT_EQ(log.unstable_entries().size(), 1u);
  log.StableTo(1, 2);
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLog, RestoreFromSnapshotReplacesEverything) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Save(nullptr, {E(1, 1)}).ok());
  RaftLog log(&storage, 0);
  Snapshot snap;
  snap.mutable_meta()->set_index(10);
  snap.mutable_meta()->set_term(3);
  log.Restore(snap);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.Term(10), 3u);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_FALSE(log.HasNextCommitted());
}

TEST(MemoryLogStorage, CompactKeepsLaterEntriesAndTheBoundaryTerm) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Save(nullptr, {E(1, 1), E(2, 1), E(3, 2)}).ok());
  SnapshotMeta meta;
  meta.set_index(2);
  meta.set_term(1);
  ASSERT_TRUE(storage.Compact(meta).ok());
  EXPECT_EQ(storage.FirstIndex(), 3u);
  EXPECT_EQ(*storage.Term(2), 1u);
  EXPECT_EQ(*storage.Term(3), 2u);
  EXPECT_FALSE(storage.Term(1).ok());
  EXPECT_FALSE(storage.Entries(1, 3, 100).ok());
}

}  // namespace
}  // namespace medvault::raft
