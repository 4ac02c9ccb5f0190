// Planning a commit: validation, duplicate detection and the single batch that stores an instance.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"

namespace medvault::metaserver {
namespace {

constexpr size_t kIdBytes = 16;
constexpr size_t kSha256Bytes = 32;
// Generous bounds on key components (DICOM allows 64 characters for UIDs and LO values).
constexpr size_t kMaxKeyComponentBytes = 1024;

}  // namespace

absl::Status ValidateKeyComponent(absl::string_view value, absl::string_view what, bool required) {
  if (required && value.empty())
    return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains a NUL byte"));
  }
  if (value.size() > kMaxKeyComponentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxKeyComponentBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCommit(const v1::InstanceTags& tags, const v1::ObjectManifest& manifest) {
  // The index's rules (common/index_fields.h): valid UIDs, text, fields within their VR's length.
  RETURN_IF_ERROR(CheckIndexRules(tags));
  if (manifest.object_id().size() != kIdBytes) {
    return absl::InvalidArgumentError("manifest object id must be 16 bytes");
  }
  if (manifest.sha256().size() != kSha256Bytes) {
    return absl::InvalidArgumentError("manifest sha256 must be 32 bytes");
  }
  if (manifest.chunks_size() == 0) return absl::InvalidArgumentError("manifest has no chunks");
  std::set<std::string> seen;
  for (int i = 0; i < manifest.chunks_size(); ++i) {
    const v1::ChunkLocation& chunk = manifest.chunks(i);
    if (chunk.chunk_id().size() != kIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", i, ": chunk id must be 16 bytes"));
    }
    if (chunk.server_ids_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", i, ": no server holds a replica"));
    }
    for (const std::string& server : chunk.server_ids()) {
      if (server.empty())
        return absl::InvalidArgumentError(absl::StrCat("chunk ", i, ": empty server id"));
    }
    if (!seen.insert(chunk.chunk_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk ", i, ": chunk id repeated in the manifest"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> PlanCommit(const KvReader& state, const v1::InstanceTags& tags,
                                        const v1::ObjectManifest& manifest, int64_t now_micros,
                                        rocksdb::WriteBatchBase* batch_out,
                                        const v1::InstanceHeader* header) {
  RETURN_IF_ERROR(ValidateCommit(tags, manifest));
  if (header != nullptr && header->dataset().size() > kMaxHeaderBytes) {
    return absl::InvalidArgumentError("header: data set larger than 64 KiB");
  }
  CommitResult result;

  // The same SOP Instance UID: identical content is a successful no-op, different content a
  // conflict.
  v1::StoredInstance existing;
  bool instance_found = false;
  RETURN_IF_ERROR(
      ReadOptional(state, kInstancesCf, tags.sop_instance_uid(), &existing, &instance_found));
  if (instance_found) {
    if (existing.info().sha256() == manifest.sha256()) {
      result.already_stored = true;
      result.info = existing.info();
      return result;
    }
    return absl::AlreadyExistsError(
        "an instance with this SOP Instance UID is already stored with different content");
  }

  // Ids must be fresh: a reused object or chunk id would let two objects share data or a key.
  ASSIGN_OR_RETURN(bool object_in_use, state.Exists(kManifestsCf, manifest.object_id()));
  ASSIGN_OR_RETURN(bool object_tombstoned, state.Exists(kTombstonesCf, manifest.object_id()));
  if (object_in_use || object_tombstoned) {
    return absl::AlreadyExistsError("the manifest's object id is already in use");
  }
  for (int i = 0; i < manifest.chunks_size(); ++i) {
    ASSIGN_OR_RETURN(bool chunk_in_use, state.Exists(kChunksCf, manifest.chunks(i).chunk_id()));
    if (chunk_in_use) {
      return absl::AlreadyExistsError(
          absl::StrCat("chunk ", i, ": chunk id is already referenced"));
    }
  }

  v1::StoredSeries series;
  bool series_found = false;
  RETURN_IF_ERROR(ReadOptional(state, kSeriesCf, tags.series_uid(), &series, &series_found));
  if (series_found && series.study_uid() != tags.study_uid()) {
    return absl::InvalidArgumentError("the series is already stored under a different study");
  }
  v1::StoredStudy study;
  bool study_found = false;
  RETURN_IF_ERROR(ReadOptional(state, kStudiesCf, tags.study_uid(), &study, &study_found));

  rocksdb::WriteBatchBase& batch = *batch_out;
  v1::InstanceInfo& info = result.info;
  *info.mutable_tags() = tags;
  info.set_size(manifest.size());
  info.set_sha256(manifest.sha256());
  info.set_stored_at_micros(now_micros);

  v1::StoredInstance instance;
  *instance.mutable_info() = info;
  instance.set_object_id(manifest.object_id());
  if (header != nullptr && !header->dataset().empty()) *instance.mutable_header() = *header;
  batch.Put(state.cf(kInstancesCf), ToSlice(tags.sop_instance_uid()), Encode(instance));
  batch.Put(state.cf(kManifestsCf), ToSlice(manifest.object_id()), Encode(manifest));
  for (int i = 0; i < manifest.chunks_size(); ++i) {
    v1::ChunkRef ref;
    ref.set_object_id(manifest.object_id());
    ref.set_index(static_cast<uint32_t>(i));
    batch.Put(state.cf(kChunksCf), ToSlice(manifest.chunks(i).chunk_id()), Encode(ref));
  }
  batch.Put(state.cf(kIndexCf), keys::SeriesInstance(tags.series_uid(), tags.sop_instance_uid()),
            "");

  v1::StudySummary& summary = *study.mutable_summary();
  if (!study_found) {
    summary.set_study_uid(tags.study_uid());
    summary.set_patient_id(tags.patient_id());
    summary.set_patient_name(tags.patient_name());
    summary.set_patient_birth_date(tags.patient_birth_date());
    summary.set_study_date(tags.study_date());
    summary.set_study_description(tags.study_description());
    summary.set_accession_number(tags.accession_number());
    summary.set_study_time(tags.study_time());
    summary.set_patient_sex(tags.patient_sex());
    study.set_study_time(tags.study_time());
    study.set_created_at_micros(now_micros);
    batch.Put(state.cf(kIndexCf),
              keys::PatientIndex(summary.patient_id(), summary.study_date(), summary.study_uid()),
              "");
    batch.Put(state.cf(kIndexCf), keys::DateIndex(summary.study_date(), summary.study_uid()), "");
    if (!summary.accession_number().empty()) {
      batch.Put(state.cf(kIndexCf),
                keys::AccessionIndex(summary.accession_number(), summary.study_date(),
                                     summary.study_uid()),
                "");
    }
  }

  v1::SeriesInfo& series_info = *series.mutable_info();
  if (!series_found) {
    series.set_study_uid(tags.study_uid());
    series_info.set_series_uid(tags.series_uid());
    series_info.set_modality(tags.modality());
    series_info.set_series_description(tags.series_description());
    series_info.set_series_number(tags.series_number());
    batch.Put(state.cf(kIndexCf), keys::StudySeries(tags.study_uid(), tags.series_uid()), "");
    summary.set_series_count(summary.series_count() + 1);
    const std::string& modality = series_info.modality();
    auto* modalities = summary.mutable_modalities();
    if (!modality.empty() &&
        std::find(modalities->begin(), modalities->end(), modality) == modalities->end()) {
      modalities->Add(std::string(modality));
      std::sort(modalities->begin(), modalities->end());
      batch.Put(state.cf(kIndexCf),
                keys::ModalityIndex(modality, summary.study_date(), summary.study_uid()), "");
    }
  }
  series_info.set_instance_count(series_info.instance_count() + 1);
  series_info.set_total_bytes(series_info.total_bytes() + manifest.size());
  batch.Put(state.cf(kSeriesCf), ToSlice(tags.series_uid()), Encode(series));

  summary.set_instance_count(summary.instance_count() + 1);
  summary.set_total_bytes(summary.total_bytes() + manifest.size());
  if (!tags.mime_type().empty()) {
    // Documents are listed in the summary, so FindStudies shows them without a GetStudy per study.
    v1::StudyDocument& document = *summary.add_documents();
    document.set_sop_instance_uid(tags.sop_instance_uid());
    document.set_mime_type(tags.mime_type());
    document.set_size(manifest.size());
  }
  batch.Put(state.cf(kStudiesCf), ToSlice(tags.study_uid()), Encode(study));
  return result;
}

}  // namespace medvault::metaserver
