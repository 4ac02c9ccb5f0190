#include "frontend/core/put_commit.h"

#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::frontend {

absl::StatusOr<v1::PutInstanceResponse> PutCommitter::Commit(
    const v1::InstanceTags& tags, v1::ObjectManifest manifest, const DataKeyMaterial& key,
    const std::string& sha256, v1::PutInstanceResponse response, const v1::InstanceHeader* header) {
  v1::CommitInstanceRequest commit;
  *commit.mutable_tags() = tags;
  if (header != nullptr) *commit.mutable_header() = *header;
  *commit.mutable_manifest() = std::move(manifest);
  auto committed = meta_->CommitInstance(commit);
  if (committed.ok() && !committed->already_stored()) return response;
  if (!committed.ok() && IsDefiniteRejection(committed.status().code())) {
    // The metaserver refused the commit outright: nothing references our key.
    Abandon(key);
    return Annotate(committed.status(), "committing the manifest");
  }
  // Either "already stored" or an error that leaves the outcome unknown (deadline, lost
  // connection): the commit may have landed, possibly ours. Ask which object is stored. Only a
  // different object proves ours is garbage; when in doubt the key is kept, because destroying the
  // key of a committed instance would lose the image for good (a leaked key costs 60 bytes).
  auto stored = meta_->GetInstance(tags.sop_instance_uid());
  if (stored.ok() && stored->manifest().object_id() == key.object_id)
    return response;  // ours landed
  if (stored.ok() && committed.ok()) {
    Abandon(key);  // an identical put won the race
    response.set_already_stored(true);
    return response;
  }
  if (stored.ok() && stored->info().sha256() != sha256) {
    Abandon(key);
    return absl::AlreadyExistsError(
        "an instance with this SOP Instance UID is already stored with different content");
  }
  if (committed.ok())
    return absl::InternalError("metaserver reported a stored instance it cannot find");
  stats_->uncertain_commits += 1;
  MV_LOG(WARNING) << "commit of object " << ToHex(key.object_id) << " has an unknown outcome ("
                  << committed.status().code() << "); keeping its key";
  return Annotate(committed.status(), "committing the manifest (outcome unknown; retry the put)");
}

bool PutCommitter::IsDefiniteRejection(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

void PutCommitter::Abandon(const DataKeyMaterial& key) {
  stats_->abandoned_puts += 1;
  absl::Status s =
      keys_->DestroyDataKeys({key.object_id}, KeyAudit{"", "PutInstance (abandoned upload)", ""});
  if (!s.ok()) {
    MV_LOG(WARNING) << "could not destroy the key of abandoned object " << ToHex(key.object_id)
                    << ": " << s.code();
  }
}

}  // namespace medvault::frontend
