// A small pool of fresh data keys, refilled from the key service in batches, so a put does not pay
// a key-service round trip each time. Keys left in the pool at shutdown are destroyed.
#pragma once

#include <deque>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "frontend/core/clients.h"

namespace medvault::frontend {

class DekPool {
 public:
  // `batch` keys are requested whenever the pool runs dry. batch >= 1.
  DekPool(KeyClient* keys, uint32_t batch) : keys_(keys), batch_(batch < 1 ? 1 : batch) {}

  // Takes one unused key (object id + DEK). Thread-safe.
  absl::StatusOr<DataKeyMaterial> Take();

  // Destroys the keys never handed out (best effort; returns the key service's error, if any).
  absl::Status Drain();

 private:
  KeyClient* keys_;
  const uint32_t batch_;
  std::mutex mu_;
  std::deque<DataKeyMaterial> pool_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::frontend
