#include "frontend/core/denial_forwarder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace medvault::frontend {
namespace {

TEST(DenialForwarderTest, ForwardsUpToTheLimitPerSecondAndCountsTheRest) {
  FakeClock clock;
  std::vector<std::string> sent;
  DenialForwarder forwarder(
      [&](const std::string& client, absl::string_view method, const absl::Status&) {
        sent.push_back(client + " " + std::string(method));
        return absl::OkStatus();
      },
      &clock, 2);
  const absl::Status denied = absl::PermissionDeniedError("no");
  EXPECT_TRUE(forwarder.Forward("client/a", "DeleteStudy", denied));
  EXPECT_TRUE(forwarder.Forward("client/a", "DeleteStudy", denied));
  EXPECT_FALSE(forwarder.Forward("client/a", "DeleteStudy", denied));  // third in this second
  EXPECT_EQ(forwarder.skipped(), 1u);
  clock.Advance(1000000);
  EXPECT_TRUE(forwarder.Forward("client/b", "PutInstance", denied));  // a new second, a new budget
  EXPECT_EQ(sent, (std::vector<std::string>{"client/a DeleteStudy", "client/a DeleteStudy",
                                            "client/b PutInstance"}));
}

TEST(DenialForwarderTest, AFailedSendStillCountsAsForwarded) {
  FakeClock clock;
  int calls = 0;
  DenialForwarder forwarder(
      [&](const std::string&, absl::string_view, const absl::Status&) {
        ++calls;
        return absl::UnavailableError("key service down");
      },
      &clock, 1);
  EXPECT_TRUE(forwarder.Forward("client/a", "GetInstance", absl::PermissionDeniedError("no")));
  EXPECT_FALSE(forwarder.Forward("client/a", "GetInstance", absl::PermissionDeniedError("no")));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace medvault::frontend
