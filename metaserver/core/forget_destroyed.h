// A restore from a backup and crypto-shredding (docs/security.md, "Backups and crypto-shredding"):
// the backup's index still lists the objects deleted after it was taken, PHI included. Their keys
// are gone (the key service drops them on restore, from the shred logs); this removes the objects
// from the restored index as well, so no study deleted after the backup comes back in a `find`.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/kv.h"

namespace medvault::metaserver {

struct ForgottenObjects {
  uint64_t instances = 0;   // instance records removed (as DeleteInstance removes them)
  uint64_t tombstones = 0;  // tombstones whose kept UIDs were dropped (key confirmed destroyed)
};

// Deletes, straight in `kv` (a metaserver database, outside any Raft group), every instance whose
// object id is in `destroyed` exactly as Catalog::DeleteInstance does (index entries, series and
// study records, summaries), releasing a legal hold of its study first (the deletion it repeats
// happened after the backup, so the hold did not stand then), and confirms those objects' keys
// destroyed (their tombstones keep no UID; the GC reclaims their chunks). Deterministic in its
// inputs: replicas given the same state, ids and `now_micros` end with the same state.
absl::StatusOr<ForgottenObjects> ForgetDestroyedObjects(KvStore* kv,
                                                        const std::set<std::string>& destroyed,
                                                        int64_t now_micros);

}  // namespace medvault::metaserver
