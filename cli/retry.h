// The CLI's retry of calls that are safe to repeat (reads, and put: storing the same bytes again is
// answered "already stored"): an UNAVAILABLE answer means the frontend is restarting, a Raft group
// is changing leader, or a connection was refused, so the call is tried again with backoff until
// its time budget is spent. Every other answer is final.
#pragma once

#include <algorithm>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace medvault::cli {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Runs `call` (returning absl::Status or absl::StatusOr) until it returns anything but
// UNAVAILABLE or `budget` has passed since the first attempt; waits 100 ms, doubling up to 2 s
// (with jitter), between attempts. Returns the last result.
template <typename Call>
auto RetryUnavailable(Call call, absl::Duration budget) -> decltype(call()) {
  const absl::Time deadline = absl::Now() + budget;
  absl::Duration backoff = absl::Milliseconds(100);
  std::minstd_rand jitter(std::random_device{}());
  for (;;) {
    auto result = call();
    if (!absl::IsUnavailable(StatusOf(result))) return result;
    const absl::Duration wait =
        backoff * (0.5 + std::uniform_real_distribution<double>(0, 0.5)(jitter));
    if (absl::Now() + wait >= deadline) return result;
    // The wait is the backoff between attempts against a restarting server, not a test sleep.
    absl::SleepFor(wait);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace medvault::cli
