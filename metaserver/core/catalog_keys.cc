#include "metaserver/core/catalog_keys.h"

#include "absl/strings/str_cat.h"

namespace medvault::metaserver {

std::vector<std::string> MetaserverColumnFamilies() {
  return {kServersCf, kStudiesCf,    kSeriesCf, kInstancesCf, kIndexCf,    kManifestsCf,
          kChunksCf,  kTombstonesCf, kSharesCf, kShareLogCf,  kRetentionCf};
}

std::vector<std::string> PurgedColumnFamilies() {
  return {kStudiesCf, kSeriesCf, kInstancesCf, kIndexCf, kManifestsCf, kTombstonesCf, kRetentionCf};
}

namespace keys {
namespace {
constexpr absl::string_view kSep("\0", 1);
}  // namespace

std::string PatientPrefix(absl::string_view patient_id) {
  return absl::StrCat(absl::string_view(&kPatientTag, 1), patient_id, kSep);
}
std::string DatePrefix() { return std::string(1, kDateTag); }
std::string ModalityPrefix(absl::string_view modality) {
  return absl::StrCat(absl::string_view(&kModalityTag, 1), modality, kSep);
}
std::string AccessionPrefix(absl::string_view accession_number) {
  return absl::StrCat(absl::string_view(&kAccessionTag, 1), accession_number, kSep);
}

std::string PatientIndex(absl::string_view patient_id, absl::string_view study_date,
                         absl::string_view study_uid) {
  return absl::StrCat(PatientPrefix(patient_id), study_date, kSep, study_uid);
}
std::string DateIndex(absl::string_view study_date, absl::string_view study_uid) {
  return absl::StrCat(DatePrefix(), study_date, kSep, study_uid);
}
std::string ModalityIndex(absl::string_view modality, absl::string_view study_date,
                          absl::string_view study_uid) {
  return absl::StrCat(ModalityPrefix(modality), study_date, kSep, study_uid);
}
std::string AccessionIndex(absl::string_view accession_number, absl::string_view study_date,
                           absl::string_view study_uid) {
  return absl::StrCat(AccessionPrefix(accession_number), study_date, kSep, study_uid);
}

std::string StudySeriesPrefix(absl::string_view study_uid) {
  return absl::StrCat("t", study_uid, kSep);
}
std::string StudySeries(absl::string_view study_uid, absl::string_view series_uid) {
  return absl::StrCat(StudySeriesPrefix(study_uid), series_uid);
}
std::string SeriesInstancePrefix(absl::string_view series_uid) {
  return absl::StrCat("s", series_uid, kSep);
}
std::string SeriesInstance(absl::string_view series_uid, absl::string_view sop_instance_uid) {
  return absl::StrCat(SeriesInstancePrefix(series_uid), sop_instance_uid);
}
std::string StudyTombstonePrefix(absl::string_view study_uid) {
  return absl::StrCat("x", study_uid, kSep);
}
std::string StudyTombstone(absl::string_view study_uid, absl::string_view object_id) {
  return absl::StrCat(StudyTombstonePrefix(study_uid), object_id);
}
std::string InstanceTombstonePrefix(absl::string_view sop_instance_uid) {
  return absl::StrCat("y", sop_instance_uid, kSep);
}
std::string InstanceTombstone(absl::string_view sop_instance_uid, absl::string_view object_id) {
  return absl::StrCat(InstanceTombstonePrefix(sop_instance_uid), object_id);
}

absl::string_view StudyUidOf(absl::string_view study_index_key) {
  const size_t pos = study_index_key.rfind('\0');
  if (pos == absl::string_view::npos) return absl::string_view();
  return study_index_key.substr(pos + 1);
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char last = static_cast<unsigned char>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

}  // namespace keys
}  // namespace medvault::metaserver
