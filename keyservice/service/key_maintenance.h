// The key service's background work: rewrapping stored keys under the active KEK after a rotation
// (on the Raft leader, throttled), and shredding destroyed keys out of the database files (on every
// replica). Publishes progress as metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <set>

#include "absl/time/time.h"
#include "common/periodic_task.h"
#include "keyservice/core/key_store.h"
#include "keyservice/core/shredder.h"

namespace medvault::keyservice {

struct MaintenanceOptions {
  // A rewrap pass (and a census for the metrics) runs this often, and at once after a rotation.
  absl::Duration rewrap_interval = absl::Seconds(30);
  // Keys rewrapped per replicated write, and the pause between writes (client calls go first).
  size_t rewrap_batch = 256;
  absl::Duration rewrap_pause = absl::Milliseconds(20);
  // Destroyed keys are shredded at most this long after their destruction is applied.
  absl::Duration shred_interval = absl::Seconds(1);
};

// Thread-safe.
class KeyMaintenance {
 public:
  // All pointers must outlive this object. `is_leader` says whether this replica may write.
  KeyMaintenance(KeyStore* store, Shredder* shredder, std::function<bool()> is_leader,
                 MaintenanceOptions options, prometheus::Registry& registry);
  ~KeyMaintenance();

  void Start();
  void Stop();
  // Starts a rewrap pass now (after RotateKek).
  void KickRewrap() { rewrap_task_.Kick(); }

  // One full rewrap pass then a census; no-op on a follower. Public for tests.
  void RewrapPass();
  // Shreds what is pending. Public for tests.
  void ShredPass();

 private:
  KeyStore* const store_;
  Shredder* const shredder_;
  const std::function<bool()> is_leader_;
  const MaintenanceOptions options_;
  prometheus::Gauge& active_version_;
  prometheus::Gauge& to_rewrap_;
  prometheus::Family<prometheus::Gauge>& by_version_;
  prometheus::Family<prometheus::Gauge>& activated_;
  prometheus::Counter& rewrapped_;
  prometheus::Counter& rewrap_errors_;
  prometheus::Gauge& pending_shred_;
  prometheus::Counter& shredded_;
  prometheus::Counter& shred_errors_;
  uint64_t shredded_seen_ = 0;        // only touched by the shred task
  std::set<uint32_t> versions_seen_;  // only touched by the rewrap task
  PeriodicTask rewrap_task_;
  PeriodicTask shred_task_;
};

}  // namespace medvault::keyservice
