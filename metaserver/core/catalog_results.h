// What the catalog's mutations return: shared by the Catalog (catalog.h) and the planners that
// compute them (catalog_mutations.h), so neither header needs the other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "medvault/v1/common.pb.h"

namespace medvault::metaserver {

struct CommitResult {
  // True when the identical instance (same SOP Instance UID and sha256) was already stored.
  bool already_stored = false;
  // The stored instance (the existing one when already_stored).
  v1::InstanceInfo info;
};

struct DeleteResult {
  // Instances removed from the index by this call.
  uint64_t instances_deleted = 0;
  // Objects whose data keys must be destroyed: those deleted now and those of earlier deletions of
  // the same study (instance) whose destruction was not yet confirmed. Sorted, distinct.
  std::vector<std::string> object_ids;
};

}  // namespace medvault::metaserver
