#include "metaserver/core/offset_file_clock.h"

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace medvault::metaserver {

int64_t OffsetFileClock::NowMicros() {
  int64_t seconds = 0;
  absl::StatusOr<std::string> text = fs_->ReadFile(path_);
  if (text.ok() && !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &seconds)) seconds = 0;
  return base_->NowMicros() + seconds * 1'000'000;
}

}  // namespace medvault::metaserver
