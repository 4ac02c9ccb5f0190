#include "frontend/dimse/find_query.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "frontend/dimse/find_match.h"

namespace medvault::frontend {
namespace {

enum Level { kPatient = 0, kStudy = 1, kSeries = 2, kImage = 3 };

// What one answer is made of: the study (with its first instance's tags for the patient and
// study attributes the summary lacks), and the series and instance at deeper levels.
struct Row {
  const v1::StudySummary* study = nullptr;
  const v1::InstanceTags* first = nullptr;  // null when the listing was not fetched
  const v1::SeriesInfo* series = nullptr;
  const v1::InstanceInfo* instance = nullptr;
  // Patient level: the patient's studies, series and instances.
  uint64_t patient_studies = 0, patient_series = 0, patient_instances = 0;
  std::string patient_id, patient_name, birth_date, sex;
};

struct Attribute {
  DcmTagKey tag;
  Level level;
  MatchVr vr;
  bool needs_listing;  // not in the study summary: needs GetStudy
  std::function<std::string(const Row&)> value;
};

std::string Number(uint64_t n) { return std::to_string(n); }

const std::vector<Attribute>& Attributes() {
  static const auto* kAll = new std::vector<Attribute>{
      {DCM_PatientName, kPatient, MatchVr::kText, false,
       [](const Row& r) { return r.study ? r.study->patient_name() : r.patient_name; }},
      {DCM_PatientID, kPatient, MatchVr::kText, false,
       [](const Row& r) { return r.study ? r.study->patient_id() : r.patient_id; }},
      {DCM_PatientBirthDate, kPatient, MatchVr::kDate, false,
       [](const Row& r) { return r.study ? r.study->patient_birth_date() : r.birth_date; }},
      {DCM_PatientSex, kPatient, MatchVr::kText, true,
       [](const Row& r) {
         return r.study ? (r.first ? r.first->patient_sex() : std::string()) : r.sex;
       }},
      {DCM_NumberOfPatientRelatedStudies, kPatient, MatchVr::kNumber, false,
       [](const Row& r) { return Number(r.patient_studies); }},
      {DCM_NumberOfPatientRelatedSeries, kPatient, MatchVr::kNumber, false,
       [](const Row& r) { return Number(r.patient_series); }},
      {DCM_NumberOfPatientRelatedInstances, kPatient, MatchVr::kNumber, false,
       [](const Row& r) { return Number(r.patient_instances); }},
      {DCM_StudyInstanceUID, kStudy, MatchVr::kUid, false,
       [](const Row& r) { return r.study->study_uid(); }},
      {DCM_StudyDate, kStudy, MatchVr::kDate, false,
       [](const Row& r) { return r.study->study_date(); }},
      {DCM_StudyTime, kStudy, MatchVr::kTime, true,
       [](const Row& r) { return r.first ? r.first->study_time() : std::string(); }},
      {DCM_AccessionNumber, kStudy, MatchVr::kText, false,
       [](const Row& r) { return r.study->accession_number(); }},
      {DCM_StudyDescription, kStudy, MatchVr::kText, false,
       [](const Row& r) { return r.study->study_description(); }},
      {DCM_ModalitiesInStudy, kStudy, MatchVr::kText, false,
       [](const Row& r) { return absl::StrJoin(r.study->modalities(), "\\"); }},
      {DCM_NumberOfStudyRelatedSeries, kStudy, MatchVr::kNumber, false,
       [](const Row& r) { return Number(r.study->series_count()); }},
      {DCM_NumberOfStudyRelatedInstances, kStudy, MatchVr::kNumber, false,
       [](const Row& r) { return Number(r.study->instance_count()); }},
      {DCM_SeriesInstanceUID, kSeries, MatchVr::kUid, true,
       [](const Row& r) { return r.series->series_uid(); }},
      {DCM_Modality, kSeries, MatchVr::kText, true,
       [](const Row& r) { return r.series->modality(); }},
      {DCM_SeriesDescription, kSeries, MatchVr::kText, true,
       [](const Row& r) { return r.series->series_description(); }},
      {DCM_SeriesNumber, kSeries, MatchVr::kNumber, true,
       [](const Row& r) {
         return r.series->series_number() ? Number(r.series->series_number()) : std::string();
       }},
      {DCM_NumberOfSeriesRelatedInstances, kSeries, MatchVr::kNumber, true,
       [](const Row& r) { return Number(r.series->instance_count()); }},
      {DCM_SOPInstanceUID, kImage, MatchVr::kUid, true,
       [](const Row& r) { return r.instance->tags().sop_instance_uid(); }},
      {DCM_SOPClassUID, kImage, MatchVr::kUid, true,
       [](const Row& r) { return r.instance->tags().sop_class_uid(); }},
      {DCM_InstanceNumber, kImage, MatchVr::kNumber, true,
       [](const Row& r) {
         return r.instance->tags().instance_number() ? Number(r.instance->tags().instance_number())
                                                     : std::string();
       }},
  };
  return *kAll;
}

const Attribute* Find(const DcmTagKey& tag) {
  for (const Attribute& a : Attributes()) {
    if (a.tag == tag) return &a;
  }
  return nullptr;
}

// A key of the identifier: its tag and the value asked for ("" for a return key).
struct Key {
  DcmTagKey tag;
  std::string value;
  const Attribute* attribute;  // null when the index does not hold it (returned empty)
};

bool RowMatches(const std::vector<Key>& keys, const Row& row, Level level) {
  for (const Key& k : keys) {
    if (k.attribute == nullptr || k.attribute->level > level || k.value.empty()) continue;
    if (k.tag == DCM_ModalitiesInStudy) {
      // Matches when any of the study's modalities matches any value asked for.
      bool any = false;
      for (absl::string_view want : absl::StrSplit(k.value, '\\')) {
        for (const std::string& m : row.study->modalities())
          any |= MatchesKey(k.attribute->vr, want, m);
      }
      if (!any) return false;
      continue;
    }
    if (!MatchesKey(k.attribute->vr, k.value, k.attribute->value(row))) return false;
  }
  return true;
}

// A value usable to narrow the study search: single, without wildcards.
bool Exact(const std::string& v) {
  return !v.empty() && v != "*" && v.find_first_of("*?\\") == std::string::npos;
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<DcmDataset>>> AnswerFind(
    const FindSource& source, QueryModel model, DcmDataset& identifier,
    const std::string& retrieve_ae) {
  OFString level_text;
  identifier.findAndGetOFString(DCM_QueryRetrieveLevel, level_text);
  const std::string lt(absl::StripAsciiWhitespace(level_text.c_str()));
  Level level;
  if (lt == "PATIENT" && model == QueryModel::kPatientRoot) {
    level = kPatient;
  } else if (lt == "STUDY") {
    level = kStudy;
  } else if (lt == "SERIES") {
    level = kSeries;
  } else if (lt == "IMAGE") {
    level = kImage;
  } else {
    return absl::InvalidArgumentError("QueryRetrieveLevel is missing or not valid for the model");
  }

  std::vector<Key> keys;
  bool needs_listing = level >= kSeries;
  for (unsigned long i = 0; i < identifier.card(); ++i) {
    DcmElement* e = identifier.getElement(i);
    const DcmTagKey tag = e->getTag();
    if (tag == DCM_QueryRetrieveLevel || tag == DCM_SpecificCharacterSet) continue;
    OFString value;
    if (e->ident() != EVR_SQ) e->getOFStringArray(value);
    const Attribute* a = Find(tag);
    if (a != nullptr && a->level > level) continue;  // below the query level: not answered
    keys.push_back(Key{tag, std::string(absl::StripTrailingAsciiWhitespace(value.c_str())), a});
    if (a != nullptr && a->needs_listing) needs_listing = true;
  }
  auto key_value = [&](const DcmTagKey& tag) -> std::string {
    for (const Key& k : keys) {
      if (k.tag == tag) return k.value;
    }
    return "";
  };

  // The candidate studies: those listed by UID, or those the index's study search returns.
  std::vector<v1::StudySummary> studies;
  const std::string study_uids = key_value(DCM_StudyInstanceUID);
  if (!study_uids.empty() && study_uids != "*") {
    for (absl::string_view uid : absl::StrSplit(study_uids, '\\', absl::SkipEmpty())) {
      v1::GetStudyRequest req;
      req.set_study_uid(std::string(uid));
      absl::StatusOr<v1::GetStudyResponse> got = source.get(req);
      if (got.status().code() == absl::StatusCode::kNotFound) continue;
      if (!got.ok()) return got.status();
      studies.push_back(got->study());
    }
  } else {
    v1::FindStudiesRequest req;
    v1::StudyQuery& q = *req.mutable_query();
    if (Exact(key_value(DCM_PatientID))) q.set_patient_id(key_value(DCM_PatientID));
    const std::string date = key_value(DCM_StudyDate);
    if (!date.empty() && date.find_first_of("*?\\") == std::string::npos) {
      const size_t dash = date.find('-');
      q.set_study_date_from(date.substr(0, dash));
      q.set_study_date_to(dash == std::string::npos ? date : date.substr(dash + 1));
    }
    const std::string modality =
        level >= kSeries ? key_value(DCM_Modality) : key_value(DCM_ModalitiesInStudy);
    if (Exact(modality)) q.set_modality(modality);
    q.set_page_size(1000);
    do {
      absl::StatusOr<v1::FindStudiesResponse> page = source.find(req);
      if (!page.ok()) return page.status();
      for (const v1::StudySummary& s : page->page().studies()) studies.push_back(s);
      q.set_page_token(page->page().next_page_token());
    } while (!q.page_token().empty());
  }

  // Rows at the query level, each checked against every key.
  std::vector<v1::GetStudyResponse> listings(studies.size());
  std::vector<Row> rows;
  std::map<std::string, Row> patients;  // by patient id, in order
  for (size_t i = 0; i < studies.size(); ++i) {
    Row base;
    base.study = &studies[i];
    if (needs_listing) {
      v1::GetStudyRequest req;
      req.set_study_uid(studies[i].study_uid());
      absl::StatusOr<v1::GetStudyResponse> got = source.get(req);
      if (got.status().code() == absl::StatusCode::kNotFound) continue;  // deleted meanwhile
      if (!got.ok()) return got.status();
      listings[i] = *std::move(got);
      for (const v1::SeriesInfo& s : listings[i].series()) {
        if (s.instances_size() > 0) {
          base.first = &s.instances(0).tags();
          break;
        }
      }
    }
    if (level == kPatient) {
      // A patient matches through its own attributes; its studies are aggregated.
      if (!RowMatches(keys, base, kPatient)) continue;
      Row& p = patients[studies[i].patient_id()];
      if (p.patient_studies == 0) {
        p.patient_id = studies[i].patient_id();
        p.patient_name = studies[i].patient_name();
        p.birth_date = studies[i].patient_birth_date();
        p.sex = base.first ? base.first->patient_sex() : "";
      }
      ++p.patient_studies;
      p.patient_series += studies[i].series_count();
      p.patient_instances += studies[i].instance_count();
      continue;
    }
    if (level == kStudy) {
      if (RowMatches(keys, base, kStudy)) rows.push_back(base);
      continue;
    }
    for (const v1::SeriesInfo& series : listings[i].series()) {
      Row r = base;
      r.series = &series;
      if (level == kSeries) {
        if (RowMatches(keys, r, kSeries)) rows.push_back(r);
        continue;
      }
      for (const v1::InstanceInfo& instance : series.instances()) {
        r.instance = &instance;
        if (RowMatches(keys, r, kImage)) rows.push_back(r);
      }
    }
  }
  for (auto& [id, p] : patients) {
    // The patient's row: patient attributes from its first study, through `study == nullptr`.
    rows.push_back(p);
  }

  std::vector<std::unique_ptr<DcmDataset>> answers;
  for (const Row& row : rows) {
    auto ds = std::make_unique<DcmDataset>();
    ds->putAndInsertString(DCM_QueryRetrieveLevel, lt.c_str());
    for (const Key& k : keys) {
      std::string value;
      if (k.attribute != nullptr) value = k.attribute->value(row);
      if (k.tag == DCM_RetrieveAETitle) value = retrieve_ae;
      // An unknown key, or a sequence, is returned empty: the index does not hold it.
      if (DcmTag(k.tag).getEVR() == EVR_SQ) {
        ds->insertEmptyElement(k.tag);
      } else {
        ds->putAndInsertString(k.tag, value.c_str());
      }
    }
    answers.push_back(std::move(ds));
  }
  return answers;
}

}  // namespace medvault::frontend
