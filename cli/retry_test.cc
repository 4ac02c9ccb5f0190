#include "cli/retry.h"

#include <vector>

#include <gtest/gtest.h>

namespace medvault::cli {
namespace {

TEST(RetryTest, RetriesUnavailableUntilAnotherAnswer) {
  int calls = 0;
  absl::StatusOr<int> r = RetryUnavailable(
      [&]() -> absl::StatusOr<int> {
        if (++calls < 3) return absl::UnavailableError("restarting");
        return 7;
      },
      absl::Seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, RetriesACallTheServerCancelledWhileStopping) {
  int calls = 0;
  absl::Status s = RetryUnavailable(
      [&] {
        if (++calls < 2) return absl::CancelledError("CANCELLED");
        return absl::OkStatus();
      },
      absl::Seconds(30));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 2);
}

// Between attempts the retry waits through the given pause (the CLI's polls its channel), with the
// backoff growing from 100 ms; a pause that returns early does not shorten the span's deadline.
TEST(RetryTest, WaitsBetweenAttemptsThroughTheGivenPause) {
  int calls = 0;
  std::vector<absl::Duration> waits;
  absl::Status s = RetryUnavailable(
      [&] {
        if (++calls < 4) return absl::UnavailableError("reconnecting");
        return absl::OkStatus();
      },
      absl::Seconds(30), [&](absl::Duration wait) { waits.push_back(wait); });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 4);
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_GE(waits[0], absl::Milliseconds(50));
  EXPECT_LE(waits[0], absl::Milliseconds(100));
  EXPECT_GE(waits[2], absl::Milliseconds(200));  // 400 ms with jitter in [0.5, 1)
}

TEST(RetryTest, OtherErrorsAreFinal) {
  int calls = 0;
  absl::Status s = RetryUnavailable(
      [&] {
        ++calls;
        return absl::InvalidArgumentError("bad");
      },
      absl::Seconds(30));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(calls, 1);
}

TEST(RetryTest, GivesUpWhenTheBudgetIsSpent) {
  int calls = 0;
  absl::Status s = RetryUnavailable(
      [&] {
        ++calls;
        return absl::UnavailableError("down");
      },
      absl::ZeroDuration());
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(calls, 1);
}

TEST(RetryTest, AFailedTlsHandshakeIsFinal) {
  int calls = 0;
  absl::Status s = RetryUnavailable(
      [&] {
        ++calls;
        return absl::UnavailableError(
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:7600: Ssl "
            "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
            "CERTIFICATE_VERIFY_FAILED");
      },
      absl::Seconds(30));
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(calls, 1);
}

TEST(RetryDeleteTest, NotFoundAfterAnInterruptedAttemptMeansTheFirstAttemptDeletedIt) {
  // The first attempt committed the delete, but the frontend stopped before answering.
  int calls = 0;
  DeleteOutcome d = RetryDelete(
      [&] {
        if (++calls == 1) return absl::CancelledError("CANCELLED");
        return absl::NotFoundError("no such instance");
      },
      absl::Seconds(30));
  EXPECT_TRUE(d.status.ok()) << d.status;
  EXPECT_TRUE(d.gone_on_retry);
  EXPECT_EQ(calls, 2);
}

TEST(RetryDeleteTest, RetriesUnavailableUntilTheDeleteIsAnswered) {
  int calls = 0;
  DeleteOutcome d = RetryDelete(
      [&] {
        if (++calls < 3) return absl::UnavailableError("restarting");
        return absl::OkStatus();
      },
      absl::Seconds(30));
  EXPECT_TRUE(d.status.ok()) << d.status;
  EXPECT_FALSE(d.gone_on_retry);
  EXPECT_EQ(calls, 3);
}

TEST(RetryDeleteTest, NotFoundAtTheFirstAttemptIsReported) {
  int calls = 0;
  DeleteOutcome d = RetryDelete(
      [&] {
        ++calls;
        return absl::NotFoundError("no such instance");
      },
      absl::Seconds(30));
  EXPECT_TRUE(absl::IsNotFound(d.status)) << d.status;
  EXPECT_FALSE(d.gone_on_retry);
  EXPECT_EQ(calls, 1);
}

TEST(RetryDeleteTest, OtherErrorsAreFinal) {
  int calls = 0;
  DeleteOutcome d = RetryDelete(
      [&] {
        if (++calls == 1) return absl::UnavailableError("restarting");
        return absl::FailedPreconditionError("the study is under legal hold");
      },
      absl::Seconds(30));
  EXPECT_TRUE(absl::IsFailedPrecondition(d.status)) << d.status;
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace medvault::cli
