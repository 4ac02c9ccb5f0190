#include "frontend/dimse/move_destination.h"

#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

TEST(MoveContextsTest, OneContextPerSopClassAndStoredSyntaxInFirstSeenOrder) {
  const std::vector<RetrieveItem> items = {
      {"I1", "CT", "1.2.840.10008.1.2.1"},
      {"I2", "CT", "1.2.840.10008.1.2.1"},
      {"I3", "CT", "1.2.840.10008.1.2.4.50"},
      {"I4", "MR", "1.2.840.10008.1.2.1"},
      {"I5", "MR", ""},  // stored without a meta header: no syntax to propose
  };
  const std::vector<std::pair<std::string, std::string>> want = {{"CT", "1.2.840.10008.1.2.1"},
                                                                 {"CT", "1.2.840.10008.1.2.4.50"},
                                                                 {"MR", "1.2.840.10008.1.2.1"}};
  EXPECT_EQ(MoveContexts(items), want);
}

TEST(MoveContextsTest, AtMost128Contexts) {
  std::vector<RetrieveItem> items;
  for (int i = 0; i < 300; ++i)
    items.push_back({"I", "C" + std::to_string(i), "1.2.840.10008.1.2"});
  EXPECT_EQ(MoveContexts(items).size(), 128u);
}

}  // namespace
}  // namespace medvault::frontend
