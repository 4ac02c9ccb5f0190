// Planning deletions: removing a study or an instance from the index into tombstones, confirming
// key destruction, and dropping reclaimed tombstones.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/index_fields.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"

namespace medvault::metaserver {
namespace {

// Every key with `prefix`, with the prefix removed.
absl::StatusOr<std::vector<std::string>> SuffixesWithPrefix(const KvReader& state,
                                                            const std::string& cf,
                                                            const std::string& prefix) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(state.ScanPrefix(cf, prefix, [&](absl::string_view key, absl::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  }));
  return out;
}

uint64_t SaturatingSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Removes one instance's record, manifest and series listing entry and writes its tombstone (with
// the pending-destruction entries a retried delete finds). Appends the object id to `deleted`.
absl::Status TombstoneInstance(const KvReader& state, const v1::StoredInstance& instance,
                               int64_t now_micros, rocksdb::WriteBatch* batch,
                               std::vector<std::string>* deleted) {
  const v1::InstanceTags& tags = instance.info().tags();
  const std::string& object_id = instance.object_id();
  v1::Tombstone tombstone;
  bool manifest_found = false;
  RETURN_IF_ERROR(
      ReadOptional(state, kManifestsCf, object_id, tombstone.mutable_manifest(), &manifest_found));
  if (!manifest_found) {
    // Still tombstone the object so its key is destroyed; its chunks become orphans for the GC.
    MV_LOG(WARNING) << "object " << ToHex(object_id) << " has no manifest; tombstoning it anyway";
    tombstone.mutable_manifest()->set_object_id(object_id);
  }
  tombstone.set_study_uid(tags.study_uid());
  tombstone.set_sop_instance_uid(tags.sop_instance_uid());
  tombstone.set_deleted_at_micros(now_micros);
  batch->Delete(state.cf(kInstancesCf), ToSlice(tags.sop_instance_uid()));
  batch->Delete(state.cf(kManifestsCf), ToSlice(object_id));
  batch->Delete(state.cf(kIndexCf),
                keys::SeriesInstance(tags.series_uid(), tags.sop_instance_uid()));
  batch->Put(state.cf(kTombstonesCf), ToSlice(object_id), Encode(tombstone));
  batch->Put(state.cf(kIndexCf), keys::StudyTombstone(tags.study_uid(), object_id), "");
  batch->Put(state.cf(kIndexCf), keys::InstanceTombstone(tags.sop_instance_uid(), object_id), "");
  deleted->push_back(object_id);
  return absl::OkStatus();
}

void DeleteModalityIndexEntries(const KvReader& state, const v1::StudySummary& summary,
                                const std::vector<std::string>& modalities,
                                rocksdb::WriteBatch* batch) {
  for (const std::string& modality : modalities) {
    batch->Delete(state.cf(kIndexCf),
                  keys::ModalityIndex(modality, summary.study_date(), summary.study_uid()));
  }
}

// Every study-level index entry of a study that disappears (its summary as stored).
void DeleteStudyIndexEntries(const KvReader& state, const v1::StudySummary& summary,
                             rocksdb::WriteBatch* batch) {
  const std::string& uid = summary.study_uid();
  batch->Delete(state.cf(kIndexCf),
                keys::PatientIndex(summary.patient_id(), summary.study_date(), uid));
  batch->Delete(state.cf(kIndexCf), keys::DateIndex(summary.study_date(), uid));
  if (!summary.accession_number().empty()) {
    batch->Delete(state.cf(kIndexCf),
                  keys::AccessionIndex(summary.accession_number(), summary.study_date(), uid));
  }
  DeleteModalityIndexEntries(state, summary,
                             {summary.modalities().begin(), summary.modalities().end()}, batch);
}

void FinishResult(std::vector<std::string> pending, DeleteResult* result) {
  for (std::string& id : pending) result->object_ids.push_back(std::move(id));
  std::sort(result->object_ids.begin(), result->object_ids.end());
  result->object_ids.erase(std::unique(result->object_ids.begin(), result->object_ids.end()),
                           result->object_ids.end());
}

}  // namespace

absl::Status CheckNotHeld(const KvReader& state, absl::string_view study_uid) {
  v1::StoredRetention retention;
  bool found = false;
  RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, study_uid, &retention, &found));
  if (found && retention.info().hold()) {
    return absl::FailedPreconditionError(
        "the study is under legal hold: release the hold before deleting");
  }
  return absl::OkStatus();
}

absl::StatusOr<DeletePlan> PlanDeleteStudy(const KvReader& state, absl::string_view study_uid,
                                           int64_t now_micros,
                                           const std::string* retention_reason) {
  RETURN_IF_ERROR(CheckUid(study_uid, "study UID"));
  DeletePlan plan;
  v1::StoredStudy study;
  bool study_found = false;
  RETURN_IF_ERROR(ReadOptional(state, kStudiesCf, study_uid, &study, &study_found));
  ASSIGN_OR_RETURN(std::vector<std::string> pending,
                   SuffixesWithPrefix(state, kIndexCf, keys::StudyTombstonePrefix(study_uid)));
  if (!study_found && pending.empty()) return absl::NotFoundError("no such study");

  if (study_found) {
    RETURN_IF_ERROR(CheckNotHeld(state, study_uid));
    rocksdb::WriteBatch& batch = plan.batch;
    v1::StoredRetention retention;
    bool retention_found = false;
    RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, study_uid, &retention, &retention_found));
    if (retention_reason != nullptr) {
      retention.set_deleting_since_micros(now_micros);
      retention.set_deleting_reason(*retention_reason);
      batch.Put(state.cf(kRetentionCf), ToSlice(study_uid), Encode(retention));
    } else if (retention_found) {
      batch.Delete(state.cf(kRetentionCf), ToSlice(study_uid));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> series_uids,
                     SuffixesWithPrefix(state, kIndexCf, keys::StudySeriesPrefix(study_uid)));
    for (const std::string& series_uid : series_uids) {
      ASSIGN_OR_RETURN(std::vector<std::string> sops,
                       SuffixesWithPrefix(state, kIndexCf, keys::SeriesInstancePrefix(series_uid)));
      for (const std::string& sop : sops) {
        v1::StoredInstance instance;
        bool instance_found = false;
        RETURN_IF_ERROR(ReadOptional(state, kInstancesCf, sop, &instance, &instance_found));
        if (instance_found) {
          RETURN_IF_ERROR(
              TombstoneInstance(state, instance, now_micros, &batch, &plan.result.object_ids));
          ++plan.result.instances_deleted;
        }
        batch.Delete(state.cf(kIndexCf), keys::SeriesInstance(series_uid, sop));
      }
      batch.Delete(state.cf(kSeriesCf), ToSlice(series_uid));
      batch.Delete(state.cf(kIndexCf), keys::StudySeries(study_uid, series_uid));
    }
    batch.Delete(state.cf(kStudiesCf), ToSlice(study_uid));
    DeleteStudyIndexEntries(state, study.summary(), &batch);
  }
  FinishResult(std::move(pending), &plan.result);
  return plan;
}

absl::StatusOr<DeletePlan> PlanDeleteInstance(const KvReader& state,
                                              absl::string_view sop_instance_uid,
                                              int64_t now_micros) {
  RETURN_IF_ERROR(CheckUid(sop_instance_uid, "SOP Instance UID"));
  DeletePlan plan;
  v1::StoredInstance instance;
  bool instance_found = false;
  RETURN_IF_ERROR(ReadOptional(state, kInstancesCf, sop_instance_uid, &instance, &instance_found));
  ASSIGN_OR_RETURN(
      std::vector<std::string> pending,
      SuffixesWithPrefix(state, kIndexCf, keys::InstanceTombstonePrefix(sop_instance_uid)));
  if (!instance_found && pending.empty()) return absl::NotFoundError("no such instance");

  if (instance_found) {
    rocksdb::WriteBatch& batch = plan.batch;
    const v1::InstanceTags& tags = instance.info().tags();
    RETURN_IF_ERROR(CheckNotHeld(state, tags.study_uid()));
    const uint64_t size = instance.info().size();
    RETURN_IF_ERROR(
        TombstoneInstance(state, instance, now_micros, &batch, &plan.result.object_ids));
    plan.result.instances_deleted = 1;

    v1::StoredSeries series;
    bool series_found = false;
    RETURN_IF_ERROR(ReadOptional(state, kSeriesCf, tags.series_uid(), &series, &series_found));
    bool series_removed = false;
    if (series_found) {
      v1::SeriesInfo& info = *series.mutable_info();
      info.set_instance_count(SaturatingSub(info.instance_count(), 1));
      info.set_total_bytes(SaturatingSub(info.total_bytes(), size));
      if (info.instance_count() == 0) {
        series_removed = true;
        batch.Delete(state.cf(kSeriesCf), ToSlice(tags.series_uid()));
        batch.Delete(state.cf(kIndexCf), keys::StudySeries(tags.study_uid(), tags.series_uid()));
      } else {
        batch.Put(state.cf(kSeriesCf), ToSlice(tags.series_uid()), Encode(series));
      }
    }

    v1::StoredStudy study;
    bool study_found = false;
    RETURN_IF_ERROR(ReadOptional(state, kStudiesCf, tags.study_uid(), &study, &study_found));
    if (study_found) {
      v1::StudySummary& summary = *study.mutable_summary();
      const v1::StudySummary old_summary = summary;
      const std::vector<std::string> old_modalities(summary.modalities().begin(),
                                                    summary.modalities().end());
      summary.set_instance_count(SaturatingSub(summary.instance_count(), 1));
      summary.set_total_bytes(SaturatingSub(summary.total_bytes(), size));
      auto* documents = summary.mutable_documents();
      documents->erase(std::remove_if(documents->begin(), documents->end(),
                                      [&](const v1::StudyDocument& d) {
                                        return d.sop_instance_uid() == tags.sop_instance_uid();
                                      }),
                       documents->end());
      if (series_removed) summary.set_series_count(SaturatingSub(summary.series_count(), 1));
      if (summary.instance_count() == 0) {
        batch.Delete(state.cf(kStudiesCf), ToSlice(tags.study_uid()));
        batch.Delete(state.cf(kRetentionCf), ToSlice(tags.study_uid()));
        DeleteStudyIndexEntries(state, old_summary, &batch);
      } else {
        if (series_removed) {
          // Recompute the distinct modalities from the series that remain.
          std::set<std::string> remaining;
          ASSIGN_OR_RETURN(
              std::vector<std::string> series_uids,
              SuffixesWithPrefix(state, kIndexCf, keys::StudySeriesPrefix(tags.study_uid())));
          for (const std::string& uid : series_uids) {
            if (uid == tags.series_uid()) continue;
            v1::StoredSeries other;
            bool other_found = false;
            RETURN_IF_ERROR(ReadOptional(state, kSeriesCf, uid, &other, &other_found));
            if (other_found && !other.info().modality().empty())
              remaining.insert(other.info().modality());
          }
          std::vector<std::string> lost;
          for (const std::string& m : old_modalities) {
            if (remaining.count(m) == 0) lost.push_back(m);
          }
          DeleteModalityIndexEntries(state, summary, lost, &batch);
          summary.clear_modalities();
          for (const std::string& m : remaining) summary.add_modalities(m);
        }
        batch.Put(state.cf(kStudiesCf), ToSlice(tags.study_uid()), Encode(study));
      }
    }
  }
  FinishResult(std::move(pending), &plan.result);
  return plan;
}

absl::StatusOr<rocksdb::WriteBatch> PlanConfirmKeysDestroyed(
    const KvReader& state, const std::vector<std::string>& object_ids) {
  rocksdb::WriteBatch batch;
  const std::set<std::string> distinct(object_ids.begin(), object_ids.end());
  for (const std::string& object_id : distinct) {
    v1::Tombstone tombstone;
    bool found = false;
    RETURN_IF_ERROR(ReadOptional(state, kTombstonesCf, object_id, &tombstone, &found));
    if (!found || tombstone.keys_destroyed()) continue;
    batch.Delete(state.cf(kIndexCf), keys::StudyTombstone(tombstone.study_uid(), object_id));
    batch.Delete(state.cf(kIndexCf),
                 keys::InstanceTombstone(tombstone.sop_instance_uid(), object_id));
    tombstone.set_keys_destroyed(true);
    tombstone.clear_study_uid();
    tombstone.clear_sop_instance_uid();
    batch.Put(state.cf(kTombstonesCf), ToSlice(object_id), Encode(tombstone));
  }
  return batch;
}

absl::StatusOr<rocksdb::WriteBatch> PlanRemoveTombstone(const KvReader& state,
                                                        absl::string_view object_id) {
  rocksdb::WriteBatch batch;
  v1::Tombstone tombstone;
  bool found = false;
  RETURN_IF_ERROR(ReadOptional(state, kTombstonesCf, object_id, &tombstone, &found));
  if (!found) return batch;
  if (!tombstone.keys_destroyed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("object ", ToHex(object_id), ": key destruction not confirmed yet"));
  }
  batch.Delete(state.cf(kTombstonesCf), ToSlice(object_id));
  for (const v1::ChunkLocation& chunk : tombstone.manifest().chunks()) {
    v1::ChunkRef ref;
    bool ref_found = false;
    RETURN_IF_ERROR(ReadOptional(state, kChunksCf, chunk.chunk_id(), &ref, &ref_found));
    if (ref_found && ref.object_id() == object_id)
      batch.Delete(state.cf(kChunksCf), ToSlice(chunk.chunk_id()));
  }
  return batch;
}

}  // namespace medvault::metaserver
