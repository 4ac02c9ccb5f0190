// The retention task: on the metaserver's Raft leader, deletes every study whose retention rule
// has fallen due (N days after ingest, or once its last share has ended) and that is not under a
// legal hold, by the path DeleteStudy takes: index entries removed into tombstones (one replicated
// write), data keys destroyed in the key service (audited there with the reason), destruction
// confirmed; garbage collection then reclaims the chunks. A deletion interrupted between steps is
// finished by a later pass (the study's retention record stays, marked deleting, until then).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/clients.h"

namespace medvault::metaserver {

struct RetentionStats {
  // Whether this replica led (a follower's pass does nothing).
  bool led = false;
  // Studies whose rule was due in this pass (held ones included).
  uint64_t due = 0;
  // Studies deleted (keys destroyed) in this pass.
  uint64_t deleted = 0;
  // Studies under legal hold (due or not).
  uint64_t held = 0;
  // Due studies the hold kept.
  uint64_t blocked_by_hold = 0;
  // Deletions that failed (retried next pass).
  uint64_t failed = 0;
};

// Thread-safe; passes are serialised.
class RetentionEnforcer {
 public:
  // Everything must outlive the enforcer. `is_leader` says whether this replica leads its group.
  RetentionEnforcer(Catalog* catalog, KeyShredder* keys, Clock* clock,
                    std::function<bool()> is_leader);

  // One pass (nothing unless leader). Errors of one study are counted in `failed` and logged (no
  // UID); the error is returned only when the retention records cannot be read.
  absl::StatusOr<RetentionStats> RunOnce() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Deletes one study (or finishes its deletion) and destroys its keys.
  absl::Status Delete(const std::string& study_uid, int64_t now);

  Catalog* const catalog_;
  KeyShredder* const keys_;
  Clock* const clock_;
  const std::function<bool()> is_leader_;
  absl::Mutex mu_;
};

}  // namespace medvault::metaserver
