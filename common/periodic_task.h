// Runs a function on its own thread every interval (GC passes, rewraps, gauge refreshes) until
// stopped; Kick() runs it early.
#pragma once

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace medvault {

// Thread-safe.
class PeriodicTask {
 public:
  // `fn` runs first one interval after Start(), then one interval after each run ends.
  PeriodicTask(absl::Duration interval, std::function<void()> fn);
  ~PeriodicTask();  // Stops.
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // REQUIRES: called at most once.
  void Start();
  // Makes the next run start now (or right after the one in progress) instead of at the interval.
  void Kick() ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes the thread, waits for a run in progress to finish and joins. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || kicked_; }

  const absl::Duration interval_;
  const std::function<void()> fn_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace medvault
