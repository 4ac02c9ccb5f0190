#include "metaserver/core/catalog.h"

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"

namespace medvault::metaserver {

Catalog::Catalog(KvStore* kv, BatchWriter* writer)
    : kv_(kv), default_writer_(kv), writer_(writer != nullptr ? writer : &default_writer_) {}

absl::StatusOr<InstanceRecord> Catalog::GetInstance(absl::string_view sop_instance_uid) const {
  RETURN_IF_ERROR(CheckUid(sop_instance_uid, "SOP Instance UID"));
  KvReader state(kv_);
  v1::StoredInstance instance;
  absl::Status s = state.GetProto(kInstancesCf, sop_instance_uid, &instance);
  if (absl::IsNotFound(s)) return absl::NotFoundError("no such instance");
  RETURN_IF_ERROR(s);
  InstanceRecord record;
  record.info = instance.info();
  s = state.GetProto(kManifestsCf, instance.object_id(), &record.manifest);
  // The instance record and its manifest are written and deleted in the same batch.
  if (absl::IsNotFound(s)) return absl::DataLossError("an indexed instance has no manifest");
  RETURN_IF_ERROR(s);
  return record;
}

absl::StatusOr<DeleteResult> Catalog::DeleteStudy(absl::string_view study_uid, int64_t now_micros) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(DeletePlan plan, PlanDeleteStudy(state, study_uid, now_micros));
  if (plan.batch.Count() > 0)
    RETURN_IF_ERROR(Annotate(writer_->Write(&plan.batch), "deleting study"));
  return std::move(plan.result);
}

absl::StatusOr<DeleteResult> Catalog::DeleteInstance(absl::string_view sop_instance_uid,
                                                     int64_t now_micros) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(DeletePlan plan, PlanDeleteInstance(state, sop_instance_uid, now_micros));
  if (plan.batch.Count() > 0)
    RETURN_IF_ERROR(Annotate(writer_->Write(&plan.batch), "deleting instance"));
  return std::move(plan.result);
}

absl::Status Catalog::ConfirmKeysDestroyed(const std::vector<std::string>& object_ids) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(rocksdb::WriteBatch batch, PlanConfirmKeysDestroyed(state, object_ids));
  if (batch.Count() == 0) return absl::OkStatus();
  return Annotate(writer_->Write(&batch), "confirming key destruction");
}

absl::Status Catalog::RemoveTombstone(absl::string_view object_id) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(rocksdb::WriteBatch batch, PlanRemoveTombstone(state, object_id));
  if (batch.Count() == 0) return absl::OkStatus();
  return Annotate(writer_->Write(&batch), "removing tombstone");
}

absl::StatusOr<bool> Catalog::IsChunkReferenced(absl::string_view chunk_id) const {
  KvReader state(kv_);
  return state.Exists(kChunksCf, chunk_id);
}

absl::StatusOr<std::vector<TombstoneEntry>> Catalog::ListDestroyedTombstones(size_t limit) const {
  KvReader state(kv_);
  std::vector<TombstoneEntry> out;
  if (limit == 0) return out;
  RETURN_IF_ERROR(ScanProtos<v1::Tombstone>(
      state, kTombstonesCf, "", [&](absl::string_view key, v1::Tombstone& tombstone) {
        if (!tombstone.keys_destroyed()) return true;
        out.push_back({std::string(key), std::move(tombstone)});
        return out.size() < limit;
      }));
  return out;
}

absl::StatusOr<uint64_t> Catalog::CountTombstones() const {
  KvReader state(kv_);
  uint64_t count = 0;
  RETURN_IF_ERROR(state.ScanPrefix(kTombstonesCf, "", [&](absl::string_view, absl::string_view) {
    ++count;
    return true;
  }));
  return count;
}

}  // namespace medvault::metaserver
