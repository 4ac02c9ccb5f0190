// Which secondary index serves a study-level search, and which range of it: shared by FindStudies
// (catalog_query.cc) and FindSeries / FindInstances (catalog_find.cc), so every query narrowed by
// patient id, accession number, modality or study date reads only the matching studies.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

namespace medvault::metaserver {

// Exact study-level criteria; empty fields do not filter.
struct StudyCriteria {
  std::string patient_id;
  std::string accession_number;
  std::string modality;  // the study has a series of this modality
  std::string date_from, date_to;
};

// The criteria of a StudyQuery or LevelQuery (same field names).
template <typename Query>
StudyCriteria CriteriaOf(const Query& q) {
  return StudyCriteria{q.patient_id(), q.accession_number(), q.modality(), q.study_date_from(),
                       q.study_date_to()};
}

// A key range [start, end) of the index (end empty: to the end of the prefix's range).
struct StudyRange {
  std::string prefix;  // every entry in range starts with it, then the study date
  std::string start;
  std::string end;
  bool empty = false;  // from > to: nothing matches
  // Criteria the chosen index does not apply, to check on each study's summary.
  StudyCriteria residual;

  bool Contains(absl::string_view key) const {
    return key.compare(0, prefix.size(), prefix) == 0 && key >= start && (end.empty() || key < end);
  }
};

// The index serving `c`: patient id, else accession number, else modality, else study date.
// INVALID_ARGUMENT for a criterion containing NUL or longer than 1024 bytes.
absl::StatusOr<StudyRange> ChooseStudyRange(const StudyCriteria& c);

// True when `summary` meets the criteria the index did not apply.
bool MeetsResidual(const StudyRange& range, const v1::StudySummary& summary);

}  // namespace medvault::metaserver
