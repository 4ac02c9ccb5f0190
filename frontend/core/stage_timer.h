// Adds the wall time of a scope to one stage of a timings struct (PutTimings, GetTimings in
// options.h), read from the injected clock. A null timings pointer times nothing.
#pragma once

#include <cstdint>

#include "common/env.h"

namespace medvault::frontend {

template <typename Timings>
class StageTimer {
 public:
  StageTimer(Clock* clock, Timings* timings, double Timings::*stage)
      : clock_(clock),
        timings_(timings),
        stage_(stage),
        start_(timings != nullptr ? clock->NowMicros() : 0) {}
  ~StageTimer() {
    if (timings_ != nullptr)
      timings_->*stage_ += static_cast<double>(clock_->NowMicros() - start_) / 1e6;
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  Clock* const clock_;
  Timings* const timings_;
  double Timings::*const stage_;
  const int64_t start_;
};

}  // namespace medvault::frontend
