#include "frontend/dimse/find_query.h"

#include <cstdio>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"

namespace medvault::frontend {
namespace {

// C-FIND's levels; STUDY, SERIES and IMAGE are the index's (IndexLevel + 1).
enum Level { kPatient = 0, kStudy = 1, kSeries = 2, kImage = 3 };

// Rows examined for one C-FIND at most: a query the indexes cannot narrow is refused (A700)
// beyond this instead of reading the whole archive into answers.
constexpr size_t kMaxRowsExamined = 200000;

std::string HexTag(const DcmTagKey& tag) {
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%04X%04X", tag.getGroup(), tag.getElement());
  return hex;
}

bool IsPatientAttribute(const DcmTagKey& tag) {
  return tag == DCM_PatientName || tag == DCM_PatientID || tag == DCM_PatientBirthDate ||
         tag == DCM_PatientSex;
}

bool IsPatientCount(const DcmTagKey& tag) {
  return tag == DCM_NumberOfPatientRelatedStudies || tag == DCM_NumberOfPatientRelatedSeries ||
         tag == DCM_NumberOfPatientRelatedInstances;
}

Level LevelOf(const DcmTagKey& tag, const IndexAttribute* a) {
  if (IsPatientAttribute(tag) || IsPatientCount(tag)) return kPatient;
  if (a == nullptr) return kPatient;  // not held by the index: returned empty at any level
  return static_cast<Level>(static_cast<int>(a->level) + 1);
}

// A key of the identifier: its tag and the value asked for ("" for a return key).
struct Key {
  DcmTagKey tag;
  std::string value;
  const IndexAttribute* attribute;  // null when the index does not hold it (returned empty)
};

// One answer: a row at the query level (copied: the walk's pages do not outlive it), or at the
// PATIENT level the patient's first study and its counts.
struct Answer {
  v1::StudySummary study;
  v1::SeriesInfo series;
  v1::InstanceInfo instance;
  uint64_t patient_studies = 0, patient_series = 0, patient_instances = 0;
  IndexRow Row(Level level) const {
    return IndexRow{&study, level >= kSeries ? &series : nullptr,
                    level == kImage ? &instance : nullptr};
  }
};

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<DcmDataset>>> AnswerFind(
    const IndexSource& source, QueryModel model, DcmDataset& identifier,
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
  std::vector<IndexKey> matching;
  for (unsigned long i = 0; i < identifier.card(); ++i) {
    DcmElement* e = identifier.getElement(i);
    const DcmTagKey tag = e->getTag();
    if (tag == DCM_QueryRetrieveLevel || tag == DCM_SpecificCharacterSet) continue;
    OFString value;
    if (e->ident() != EVR_SQ) e->getOFStringArray(value);
    const IndexAttribute* a = FindIndexAttribute(HexTag(tag));
    if (LevelOf(tag, a) > level) continue;  // below the query level: not answered
    Key key{tag, std::string(absl::StripTrailingAsciiWhitespace(value.c_str())), a};
    if (a != nullptr && a->indexed) matching.push_back(IndexKey{a, key.value});
    keys.push_back(std::move(key));
  }

  // Rows at the query level (a patient's through its studies), from the index alone.
  const IndexLevel walk_level =
      level <= kStudy ? IndexLevel::kStudy : static_cast<IndexLevel>(level - 1);
  std::vector<Answer> rows;
  std::map<std::string, Answer> patients;  // by patient id, in order
  absl::StatusOr<WalkResult> walked =
      WalkIndex(source, walk_level, matching, kMaxRowsExamined, [&](const IndexRow& row) {
        if (level == kPatient) {
          Answer& p = patients[row.study->patient_id()];
          if (p.patient_studies == 0) p.study = *row.study;
          ++p.patient_studies;
          p.patient_series += row.study->series_count();
          p.patient_instances += row.study->instance_count();
          return true;
        }
        Answer answer;
        answer.study = *row.study;
        if (row.series != nullptr) answer.series = *row.series;
        if (row.instance != nullptr) answer.instance = *row.instance;
        rows.push_back(std::move(answer));
        return true;
      });
  if (!walked.ok()) return walked.status();
  if (!walked->complete) {
    return absl::ResourceExhaustedError("too many candidates in the index: narrow the query");
  }
  for (auto& [id, p] : patients) rows.push_back(std::move(p));

  std::vector<std::unique_ptr<DcmDataset>> answers;
  for (const Answer& row : rows) {
    auto ds = std::make_unique<DcmDataset>();
    ds->putAndInsertString(DCM_QueryRetrieveLevel, lt.c_str());
    for (const Key& k : keys) {
      std::string value;
      if (k.attribute != nullptr) value = k.attribute->value(row.Row(level));
      if (k.tag == DCM_NumberOfPatientRelatedStudies) value = absl::StrCat(row.patient_studies);
      if (k.tag == DCM_NumberOfPatientRelatedSeries) value = absl::StrCat(row.patient_series);
      if (k.tag == DCM_NumberOfPatientRelatedInstances) {
        value = absl::StrCat(row.patient_instances);
      }
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
