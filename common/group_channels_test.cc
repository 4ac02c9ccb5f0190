// GroupChannels: which answer a caller sees when a replicated group does not answer.
#include "common/group_channels.h"

#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace medvault {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

GroupChannels ThreeMembers() {
  // Channels connect lazily; these attempts never use them.
  return GroupChannels({"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"},
                       [](const std::string& address) {
                         return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
                       });
}

// A member that is still connecting when the caller's time runs out (the fake stands in for a
// gRPC call that waits on a handshake until its deadline).
absl::Status HangUntil(TimePoint deadline) {
  std::this_thread::sleep_until(deadline);
  return absl::DeadlineExceededError("Deadline Exceeded");
}

// mtls_test's misdirected frontend: every member refuses the handshake (UNAVAILABLE), and the
// budget runs out inside an attempt. The caller must hear why, not a bare "Deadline Exceeded".
TEST(GroupChannels, BudgetSpentAfterRefusalsReportsTheRefusal) {
  GroupChannels group = ThreeMembers();
  int attempts = 0;
  absl::Status s = group.Call(
      [&](const std::shared_ptr<grpc::Channel>&, TimePoint deadline) {
        if (++attempts < 3) return absl::UnavailableError("handshake failed: peer name mismatch");
        return HangUntil(deadline);
      },
      milliseconds(300), milliseconds(10000));
  EXPECT_EQ(attempts, 3);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "peer name mismatch")) << s;
}

// Without any refusal before it, a call that used the whole budget is a slow group: the
// caller sees DEADLINE_EXCEEDED (outcome unknown), as before.
TEST(GroupChannels, BudgetSpentInTheOnlyAttemptStaysDeadlineExceeded) {
  GroupChannels group = ThreeMembers();
  int attempts = 0;
  absl::Status s = group.Call(
      [&](const std::shared_ptr<grpc::Channel>&, TimePoint deadline) {
        ++attempts;
        return HangUntil(deadline);
      },
      milliseconds(200), milliseconds(10000));
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
}

// A member that hangs past its attempt limit is skipped, and the next one answers.
TEST(GroupChannels, AttemptCutShortMovesToTheNextMember) {
  GroupChannels group = ThreeMembers();
  int attempts = 0;
  absl::Status s = group.Call(
      [&](const std::shared_ptr<grpc::Channel>&, TimePoint deadline) {
        if (++attempts == 1) return HangUntil(deadline);
        return absl::OkStatus();
      },
      milliseconds(10000), milliseconds(100));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
}

// Any answer but UNAVAILABLE is final: it is the caller's, unchanged.
TEST(GroupChannels, OtherErrorsAreFinal) {
  GroupChannels group = ThreeMembers();
  int attempts = 0;
  absl::Status s = group.Call(
      [&](const std::shared_ptr<grpc::Channel>&, TimePoint) {
        ++attempts;
        if (attempts == 1) return absl::UnavailableError("not the leader; leader is 127.0.0.1:3");
        return absl::PermissionDeniedError("scope");
      },
      milliseconds(10000));
  EXPECT_EQ(attempts, 2);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
}

// A member that stops (SIGTERM) may cancel a call it dropped: the next member is asked.
TEST(GroupChannels, CancelledByAMemberMovesToTheNextMember) {
  GroupChannels group = ThreeMembers();
  int attempts = 0;
  absl::Status s = group.Call(
      [&](const std::shared_ptr<grpc::Channel>&, TimePoint) {
        return ++attempts == 1 ? absl::CancelledError("CANCELLED") : absl::OkStatus();
      },
      milliseconds(10000));
  EXPECT_EQ(attempts, 2);
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace medvault
