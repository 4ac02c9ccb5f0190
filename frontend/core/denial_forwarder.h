// Forwards the frontend's refusals of clients to the key service's audit log, at most a set number
// per second: a client hammering the API with calls it may not make must not turn each refusal
// into a replicated write on the key service. Refusals over the limit are still refused, logged
// and counted by the Authorizer; only their audit record is skipped (and counted here).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"

namespace medvault::frontend {

// Thread-safe.
class DenialForwarder {
 public:
  // Records one refusal: (client "role/name", public method, the refusal).
  using Send = std::function<absl::Status(const std::string& client, absl::string_view method,
                                          const absl::Status& why)>;

  // `clock` must outlive the forwarder. `per_second` >= 1.
  DenialForwarder(Send send, Clock* clock, uint32_t per_second);

  // Sends the record unless this second's budget is spent. Returns whether it was sent (and the
  // send's error, logged by the caller, does not matter to the refusal).
  bool Forward(const std::string& client, absl::string_view method, const absl::Status& why)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Refusals whose audit record was skipped by the limit.
  uint64_t skipped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Send send_;
  Clock* const clock_;
  const uint32_t per_second_;
  mutable absl::Mutex mu_;
  int64_t second_ ABSL_GUARDED_BY(mu_) = -1;
  uint32_t sent_this_second_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medvault::frontend
