#include "frontend/core/denial_forwarder.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace medvault::frontend {

DenialForwarder::DenialForwarder(Send send, Clock* clock, uint32_t per_second)
    : send_(std::move(send)), clock_(clock), per_second_(std::max<uint32_t>(1, per_second)) {}

bool DenialForwarder::Forward(const std::string& client, absl::string_view method,
                              const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    const int64_t second = clock_->NowMicros() / 1000000;
    if (second != second_) {
      second_ = second;
      sent_this_second_ = 0;
    }
    if (sent_this_second_ >= per_second_) {
      ++skipped_;
      return false;
    }
    ++sent_this_second_;
  }
  absl::Status sent = send_(client, method, why);
  if (!sent.ok()) MV_LOG(WARNING) << "could not audit a refused call: " << sent.code();
  return true;
}

uint64_t DenialForwarder::skipped() const {
  absl::MutexLock lock(&mu_);
  return skipped_;
}

}  // namespace medvault::frontend
