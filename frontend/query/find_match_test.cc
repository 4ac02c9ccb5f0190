#include "frontend/query/find_match.h"

#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

TEST(FindMatchTest, UniversalMatchingMatchesAnythingEvenEmpty) {
  for (MatchVr vr : {MatchVr::kText, MatchVr::kUid, MatchVr::kDate, MatchVr::kTime}) {
    EXPECT_TRUE(MatchesKey(vr, "", "x"));
    EXPECT_TRUE(MatchesKey(vr, "", ""));
    EXPECT_TRUE(MatchesKey(vr, "*", ""));
  }
}

TEST(FindMatchTest, SingleValueIsExactAndNeedsAValue) {
  EXPECT_TRUE(MatchesKey(MatchVr::kText, "CT", "CT"));
  EXPECT_TRUE(MatchesKey(MatchVr::kText, "CT ", "CT"));  // padding ignored
  EXPECT_FALSE(MatchesKey(MatchVr::kText, "CT", "MR"));
  EXPECT_FALSE(MatchesKey(MatchVr::kText, "CT", ""));
  EXPECT_FALSE(MatchesKey(MatchVr::kText, "ct", "CT"));  // case-sensitive
  EXPECT_TRUE(MatchesKey(MatchVr::kNumber, "3", " 3"));
}

TEST(FindMatchTest, Wildcards) {
  EXPECT_TRUE(MatchesKey(MatchVr::kText, "CompressedSamples^*", "CompressedSamples^CT1"));
  EXPECT_TRUE(MatchesKey(MatchVr::kText, "*^CT?", "CompressedSamples^CT1"));
  EXPECT_FALSE(MatchesKey(MatchVr::kText, "*^MR?", "CompressedSamples^CT1"));
  EXPECT_FALSE(MatchesKey(MatchVr::kText, "A*", ""));
  EXPECT_TRUE(WildcardMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "axxbyy"));
  EXPECT_TRUE(WildcardMatch("**", ""));
  EXPECT_FALSE(WildcardMatch("?", ""));
}

TEST(FindMatchTest, UidListsMatchAnyMember) {
  EXPECT_TRUE(MatchesKey(MatchVr::kUid, "1.2.3\\1.2.4", "1.2.4"));
  EXPECT_FALSE(MatchesKey(MatchVr::kUid, "1.2.3\\1.2.4", "1.2.5"));
  EXPECT_FALSE(MatchesKey(MatchVr::kUid, "1.2.*", "1.2.5"));  // no wildcards on UIDs
}

TEST(FindMatchTest, DateAndTimeRanges) {
  EXPECT_TRUE(MatchesKey(MatchVr::kDate, "20040101-20041231", "20040826"));
  EXPECT_FALSE(MatchesKey(MatchVr::kDate, "20040101-20041231", "20050101"));
  EXPECT_TRUE(MatchesKey(MatchVr::kDate, "-20041231", "19990101"));
  EXPECT_TRUE(MatchesKey(MatchVr::kDate, "20040101-", "20200101"));
  EXPECT_FALSE(MatchesKey(MatchVr::kDate, "20040101-", ""));
  EXPECT_TRUE(MatchesKey(MatchVr::kDate, "20040826", "20040826"));
  EXPECT_TRUE(MatchesKey(MatchVr::kTime, "1000-1200", "113000.5"));
  EXPECT_FALSE(MatchesKey(MatchVr::kTime, "1000-1200", "123000"));
  EXPECT_TRUE(MatchesKey(MatchVr::kTime, "1130", "113000"));
}

}  // namespace
}  // namespace medvault::frontend
