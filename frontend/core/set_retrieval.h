// Retrieval of a whole study or series as one operation: lists the set from the index, looks its
// manifests up (several at once), releases every data key of the set in one audited key-service
// call (KeyService.GetDataKeys: one record naming every object instead of one per instance), then
// reads instances ahead of the one being sent (a bounded number, and bounded bytes, in flight, the
// reads in parallel) and hands each instance's bytes to the sink in order. The set is never whole
// in memory: at most FrontendOptions::read_ahead_bytes of read-ahead plus the instance being sent.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "frontend/core/clients.h"
#include "frontend/core/image_store_core.h"
#include "frontend/core/options.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

class SetRetrieval {
 public:
  // All must outlive this; `core` reads each object with the key released here.
  SetRetrieval(ImageStoreCore* core, KeyClient* keys, MetaClient* meta,
               const FrontendOptions& options)
      : core_(core), keys_(keys), meta_(meta), options_(options) {}

  // The instances of `study_uid` (of `series_uid` only, when not empty) in the index's order.
  // INVALID_ARGUMENT for a malformed UID; NOT_FOUND when the study, or the series in it, is not
  // stored.
  absl::StatusOr<std::vector<v1::InstanceInfo>> List(const std::string& study_uid,
                                                     const std::string& series_uid);

  // Sends every instance of `set` to `sink` in order: for each, the sink gets its info (offset 0,
  // no data) and then its bytes (ImageStoreCore::Sink). `audit` is what the key release is
  // recorded with. Errors, after the instances before the failing one were sent: NOT_FOUND
  // "instance k of n ..." when one was deleted since the set was listed or its data key was
  // destroyed (by position, never by UID); UNAVAILABLE (nothing sent) when the key release could
  // not be audited; a read's own errors; a sink's error stops the retrieval.
  absl::Status Retrieve(const std::vector<v1::InstanceInfo>& set, const KeyAudit& audit,
                        const ImageStoreCore::Sink& sink);

 private:
  ImageStoreCore* const core_;
  KeyClient* const keys_;
  MetaClient* const meta_;
  const FrontendOptions options_;
};

}  // namespace medvault::frontend
