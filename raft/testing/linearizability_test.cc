#include "raft/testing/linearizability.h"

#include <gtest/gtest.h>

namespace medvault::raft::testing {
namespace {

KvOp W(std::string v, int64_t a, int64_t b) {
  return {KvOp::Kind::kWrite, "k", std::move(v), a, b};
}
KvOp R(std::string v, int64_t a, int64_t b) { return {KvOp::Kind::kRead, "k", std::move(v), a, b}; }

TEST(Linearizability, SequentialHistoryPasses) {
  EXPECT_TRUE(
      CheckLinearizable({R("", 0, 1), W("a", 2, 3), R("a", 4, 5), W("b", 6, 7), R("b", 8, 9)}).ok);
}

TEST(Linearizability, StaleReadAfterWriteCompletedFails) {
  // The write of b finished before the read began, so the read must not see a.
  LinearizabilityResult r = CheckLinearizable({W("a", 0, 1), W("b", 2, 3), R("a", 4, 5)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("key k"), std::string::npos);
}

TEST(Linearizability, ConcurrentOperationsMayOrderEitherWay) {
  // Once a concurrent read saw the write, a later read cannot miss it.
  EXPECT_FALSE(CheckLinearizable({W("a", 0, 10), R("a", 1, 2), R("", 3, 4)}).ok);
  EXPECT_TRUE(CheckLinearizable({W("a", 0, 10), R("", 1, 2), R("a", 3, 4)}).ok);
}

TEST(Linearizability, UnansweredWriteMayOrMayNotHaveHappened) {
  EXPECT_TRUE(CheckLinearizable({W("a", 0, -1), R("", 5, 6)}).ok);
  EXPECT_TRUE(CheckLinearizable({W("a", 0, -1), R("a", 5, 6)}).ok);
  // But once observed it cannot be unobserved.
  EXPECT_FALSE(CheckLinearizable({W("a", 0, -1), R("a", 5, 6), R("", 7, 8)}).ok);
}

TEST(Linearizability, ValueNeverWrittenFails) {
  EXPECT_FALSE(CheckLinearizable({W("a", 0, 1), R("z", 2, 3)}).ok);
}

TEST(Linearizability, KeysAreIndependent) {
  std::vector<KvOp> h = {W("a", 0, 1), {KvOp::Kind::kRead, "other", "", 2, 3}, R("a", 4, 5)};
  EXPECT_TRUE(CheckLinearizable(h).ok);
}

}  // namespace
}  // namespace medvault::raft::testing
