// The end of a put: its manifest committed to the index, or its key destroyed. A put whose
// replicas are all durable commits; whether the data key then lives or dies depends on what the
// metaserver certainly did, because destroying the key of a committed instance would lose the
// image for good, while a key kept in doubt costs 60 bytes.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "frontend/core/clients.h"
#include "frontend/core/options.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

// Thread-safe (stateless beyond its collaborators).
class PutCommitter {
 public:
  // All must outlive the committer. `stats` counts abandoned puts and uncertain commits.
  PutCommitter(KeyClient* keys, MetaClient* meta, CoreStats* stats)
      : keys_(keys), meta_(meta), stats_(stats) {}

  // Commits `manifest` (encrypted under `key`, of plaintext SHA-256 `sha256`) under `tags` (with
  // the instance's `header` for the index when given), and
  // settles the key: destroyed when the commit certainly did not land, kept when it may have.
  // Returns `response` (marked already_stored when an identical put won a race), ALREADY_EXISTS
  // when another content is stored under the SOP Instance UID, or the commit's error (annotated
  // "outcome unknown; retry the put" when it may have landed).
  absl::StatusOr<v1::PutInstanceResponse> Commit(const v1::InstanceTags& tags,
                                                 v1::ObjectManifest manifest,
                                                 const DataKeyMaterial& key,
                                                 const std::string& sha256,
                                                 v1::PutInstanceResponse response,
                                                 const v1::InstanceHeader* header = nullptr);

  // The key of a put that did not commit is useless: destroy it (best effort).
  // REQUIRES: no committed manifest references the key.
  void Abandon(const DataKeyMaterial& key);

  // True when a commit error means the metaserver certainly did not apply the commit.
  static bool IsDefiniteRejection(absl::StatusCode code);

 private:
  KeyClient* const keys_;
  MetaClient* const meta_;
  CoreStats* const stats_;
};

}  // namespace medvault::frontend
