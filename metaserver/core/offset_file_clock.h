// FOR TESTS ONLY (metaserver --testing_clock_offset_file): a clock that runs ahead of another by a
// number of seconds read from a file at every reading (absent, empty or unparsable: 0), so an
// integration test can move a real metaserver's share and retention clock forward -- a share
// expiring, a retention rule falling due -- by writing one file, without waiting days.
#pragma once

#include <cstdint>
#include <string>

#include "common/env.h"

namespace medvault::metaserver {

class OffsetFileClock : public Clock {
 public:
  // `base` and `fs` must outlive the clock.
  OffsetFileClock(Clock* base, Filesystem* fs, std::string path)
      : base_(base), fs_(fs), path_(std::move(path)) {}

  int64_t NowMicros() override;

 private:
  Clock* const base_;
  Filesystem* const fs_;
  const std::string path_;
};

}  // namespace medvault::metaserver
