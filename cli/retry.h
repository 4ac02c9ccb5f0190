// The CLI's retry of calls that are safe to repeat (reads; put: storing the same bytes again is
// answered "already stored"; rm: see RetryDelete): an UNAVAILABLE answer means the frontend is
// restarting, a Raft group is changing leader, or a connection was refused, so the call is tried
// again with backoff until its time budget is spent. Every other answer is final, and so is an
// UNAVAILABLE that says the TLS handshake failed (a certificate the server refuses, or one the
// client does not trust: trying again cannot help). The retries span at most kMaxRetrySpan (30 s),
// whatever the call's own deadline: long enough for a leader election or a quick restart, short
// enough that a permanently unreachable frontend (a wrong port, plaintext against TLS) is reported
// well before a long --timeout. A CANCELLED answer is retried too: the CLI reports its own
// cancellations (a local write failed, an unreadable input) as that local error, so a CANCELLED
// status comes from a frontend that dropped the call while stopping (gRPC cancels calls that reach
// a server after its Shutdown began), which is what UNAVAILABLE would say (rolling_restart_test).
// Between attempts the CLI waits on its channel (RetryPause, AwaitChannelReady in common/rpc.h),
// not in a plain sleep: gRPC's synchronous client reconnects only while it is polled.
#pragma once

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace medvault::cli {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

inline constexpr absl::Duration kMaxRetrySpan = absl::Seconds(30);

// What RetryUnavailable does between attempts: waits at most the given time, and may return sooner
// when the next attempt can go at once. The CLI's waits on its channel, driving its reconnection
// (AwaitChannelReady); a plain sleep is for calls without a channel (unit tests).
using RetryPause = std::function<void(absl::Duration)>;
inline void SleepBetweenAttempts(absl::Duration wait) {
  // The wait is the backoff between attempts against a restarting server, not a test sleep.
  absl::SleepFor(wait);
}

// True when an UNAVAILABLE answer comes from a failed TLS handshake (gRPC names it in the message).
inline bool IsTlsFailure(const absl::Status& s) {
  const std::string message = absl::AsciiStrToLower(s.message());
  return absl::StrContains(message, "handshake failed") ||
         absl::StrContains(message, "certificate") || absl::StrContains(message, "ssl_error");
}

// True when `s` says the call may be tried again: UNAVAILABLE (not a TLS failure) or CANCELLED.
inline bool IsRetryable(const absl::Status& s) {
  return (absl::IsUnavailable(s) && !IsTlsFailure(s)) || absl::IsCancelled(s);
}

// Runs `call` (returning absl::Status or absl::StatusOr) until it returns anything but
// UNAVAILABLE or CANCELLED (IsRetryable) or min(`budget`, kMaxRetrySpan) has passed since the first
// attempt; pauses 100 ms, doubling up to 2 s (with jitter), between attempts, by `pause`. Returns
// the last result.
template <typename Call>
auto RetryUnavailable(Call call, absl::Duration budget,
                      const RetryPause& pause = SleepBetweenAttempts) -> decltype(call()) {
  const absl::Time deadline = absl::Now() + std::min(budget, kMaxRetrySpan);
  absl::Duration backoff = absl::Milliseconds(100);
  std::minstd_rand jitter(std::random_device{}());
  for (;;) {
    auto result = call();
    if (!IsRetryable(StatusOf(result))) return result;
    const absl::Duration wait =
        backoff * (0.5 + std::uniform_real_distribution<double>(0, 0.5)(jitter));
    if (absl::Now() + wait >= deadline) return result;
    pause(wait);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

// The outcome of a delete run by RetryDelete.
struct DeleteOutcome {
  absl::Status status;
  // True when `status` is OK because a retry found the object gone after an earlier attempt was
  // interrupted (its answer lost): see RetryDelete.
  bool gone_on_retry = false;
};

// Runs a delete (`call` returns absl::Status) as RetryUnavailable does. A delete is safe to repeat:
// the metaserver keeps an instance's tombstone until its key destruction is confirmed, and a
// repeated delete finishes that shredding; only then does it answer NOT_FOUND. So NOT_FOUND after
// an attempt that was interrupted (UNAVAILABLE, CANCELLED: the answer may have been lost after the
// delete committed) means the object is gone, which is what the operator asked for: it is reported
// as success with `gone_on_retry` set. NOT_FOUND at the first attempt stays NOT_FOUND (a wrong
// UID).
template <typename Call>
DeleteOutcome RetryDelete(Call call, absl::Duration budget,
                          const RetryPause& pause = SleepBetweenAttempts) {
  bool interrupted = false;
  DeleteOutcome outcome;
  outcome.status = RetryUnavailable(
      [&]() -> absl::Status {
        absl::Status s = call();
        if (IsRetryable(s)) interrupted = true;
        return s;
      },
      budget, pause);
  if (interrupted && absl::IsNotFound(outcome.status)) {
    outcome.status = absl::OkStatus();
    outcome.gone_on_retry = true;
  }
  return outcome;
}

}  // namespace medvault::cli
