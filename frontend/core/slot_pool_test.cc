#include "frontend/core/slot_pool.h"

#include <gtest/gtest.h>

#include <utility>

namespace medvault::frontend {
namespace {

TEST(SlotPool, GivesAtMostItsSlotsAndCountsWhatItRefuses) {
  SlotPool budget(2);
  EXPECT_TRUE(budget.TryTake());
  EXPECT_TRUE(budget.TryTake());
  EXPECT_FALSE(budget.TryTake());
  EXPECT_EQ(budget.in_use(), 2u);
  EXPECT_EQ(budget.denials(), 1u);
  budget.Give();
  EXPECT_TRUE(budget.TryTake());
  budget.Give();
  budget.Give();
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.peak(), 2u);
}

TEST(SlotPool, ZeroSlotsRefusesEverything) {
  SlotPool budget(0);
  EXPECT_FALSE(budget.TryTake());
  EXPECT_FALSE(budget.TryLease().held());
  EXPECT_EQ(budget.denials(), 2u);
}

TEST(SlotPool, LeaseGivesItsSlotBackOnceWhereverItEnds) {
  SlotPool budget(1);
  {
    SlotPool::Lease a = budget.TryLease();
    EXPECT_TRUE(a.held());
    EXPECT_FALSE(budget.TryLease().held());  // an empty lease gives nothing back
    EXPECT_EQ(budget.in_use(), 1u);
    SlotPool::Lease b = std::move(a);
    EXPECT_FALSE(a.held());  // NOLINT: moved-from is empty by contract
    EXPECT_TRUE(b.held());
    SlotPool::Lease c;
    c = std::move(b);
    EXPECT_EQ(budget.in_use(), 1u);
    c.Release();
    EXPECT_EQ(budget.in_use(), 0u);
    c.Release();  // twice is harmless
    c = budget.TryLease();
    EXPECT_EQ(budget.in_use(), 1u);
  }
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace medvault::frontend
