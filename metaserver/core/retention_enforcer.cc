#include "metaserver/core/retention_enforcer.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::metaserver {

RetentionEnforcer::RetentionEnforcer(Catalog* catalog, KeyShredder* keys, Clock* clock,
                                     std::function<bool()> is_leader)
    : catalog_(catalog), keys_(keys), clock_(clock), is_leader_(std::move(is_leader)) {}

absl::Status RetentionEnforcer::Delete(const std::string& study_uid, int64_t now) {
  absl::StatusOr<RetentionDeletion> deletion = catalog_->DeleteForRetention(study_uid, now);
  if (absl::IsNotFound(deletion.status())) return catalog_->FinishRetention(study_uid);
  RETURN_IF_ERROR(deletion.status());
  const std::vector<std::string>& ids = deletion->result.object_ids;
  if (!ids.empty()) {
    RETURN_IF_ERROR(Annotate(keys_->DestroyKeys(ids, deletion->rule_set_by,
                                                absl::StrCat("Retention (", deletion->reason, ")")),
                             "destroying data keys"));
    RETURN_IF_ERROR(Annotate(catalog_->ConfirmKeysDestroyed(ids), "confirming key destruction"));
  }
  RETURN_IF_ERROR(catalog_->FinishRetention(study_uid));
  // An audit line without the study's UID (PHI): the key service's record names the objects.
  MV_LOG(INFO) << "audit op=retention-delete service=metaserver reason=\"" << deletion->reason
               << "\" instances=" << deletion->result.instances_deleted
               << " keys_destroyed=" << ids.size();
  return absl::OkStatus();
}

absl::StatusOr<RetentionStats> RetentionEnforcer::RunOnce() {
  absl::MutexLock lock(&mu_);
  RetentionStats stats;
  if (!is_leader_()) return stats;
  stats.led = true;
  const int64_t now = clock_->NowMicros();
  ASSIGN_OR_RETURN(std::vector<RetentionEntry> entries, catalog_->ListRetention(now));
  for (const RetentionEntry& entry : entries) {
    const bool deleting = entry.record.deleting_since_micros() != 0;
    const bool due = !entry.due_reason.empty();
    if (entry.record.info().hold()) {
      ++stats.held;
      if (due) {
        ++stats.due;
        ++stats.blocked_by_hold;
      }
      if (!deleting) continue;
    }
    if (!due && !deleting) continue;
    if (due) ++stats.due;
    absl::Status done = Delete(entry.study_uid, now);
    if (done.ok()) {
      ++stats.deleted;
    } else if (absl::IsFailedPrecondition(done) && !deleting) {
      // Held or no longer due since the list was read: nothing to do.
    } else {
      ++stats.failed;
      MV_LOG(WARNING) << "retention deletion failed (retried next pass): " << done;
    }
  }
  return stats;
}

}  // namespace medvault::metaserver
