// The catalog's mutations as planners: each reads a database snapshot and returns the one
// WriteBatch (plus the reply) that applies the request, without writing anything itself. They
// depend only on (snapshot, request, now), so the same request on the same state always yields the
// same batch -- what a replicated state machine needs. Internal to the catalog.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"
#include "medvault/v1/metaserver_store.pb.h"
#include "metaserver/core/catalog_results.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {

// INVALID_ARGUMENT unless the request is well-formed (see Catalog::Commit). Messages name the
// offending field, never its value.
absl::Status ValidateCommit(const v1::InstanceTags& tags, const v1::ObjectManifest& manifest);
// INVALID_ARGUMENT when a key component (UID, patient id, date, modality) is unusable: a UID must
// be non-empty; none may contain NUL or exceed the length limit. `what` names the field.
absl::Status ValidateKeyComponent(absl::string_view value, absl::string_view what, bool required);

// Adds the writes that store the instance to `batch` (none when already_stored). Several commits
// may be planned into one batch: `state` must then see the earlier ones (a KvReader overlay). On an
// error `batch` may hold some of this commit's writes: roll back to a save point taken before.
absl::StatusOr<CommitResult> PlanCommit(const KvReader& state, const v1::InstanceTags& tags,
                                        const v1::ObjectManifest& manifest, int64_t now_micros,
                                        rocksdb::WriteBatchBase* batch,
                                        const v1::InstanceHeader* header = nullptr);

struct DeletePlan {
  DeleteResult result;
  rocksdb::WriteBatch batch;  // empty when only earlier tombstones were found
};
// A study under legal hold is FAILED_PRECONDITION (only when it is still stored: finishing an
// earlier deletion's key destruction is never blocked). The study's retention record goes with it,
// unless `retention_reason` is given (a deletion by the retention task): then the record is kept,
// marked deleting with that reason, until its keys are destroyed (catalog_retention.cc).
absl::StatusOr<DeletePlan> PlanDeleteStudy(const KvReader& state, absl::string_view study_uid,
                                           int64_t now_micros,
                                           const std::string* retention_reason = nullptr);
absl::StatusOr<DeletePlan> PlanDeleteInstance(const KvReader& state,
                                              absl::string_view sop_instance_uid,
                                              int64_t now_micros);

// Fills summary->retention from the study's retention record, if it has one.
absl::Status AttachRetention(const KvReader& state, const v1::StoredStudy& study,
                             v1::StudySummary* summary);

// FAILED_PRECONDITION when the study's retention record holds it (legal hold).
absl::Status CheckNotHeld(const KvReader& state, absl::string_view study_uid);

absl::StatusOr<rocksdb::WriteBatch> PlanConfirmKeysDestroyed(
    const KvReader& state, const std::vector<std::string>& object_ids);
absl::StatusOr<rocksdb::WriteBatch> PlanRemoveTombstone(const KvReader& state,
                                                        absl::string_view object_id);

}  // namespace medvault::metaserver
