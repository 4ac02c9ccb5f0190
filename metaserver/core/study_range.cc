#include "metaserver/core/study_range.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"

namespace medvault::metaserver {

absl::StatusOr<StudyRange> ChooseStudyRange(const StudyCriteria& c) {
  RETURN_IF_ERROR(ValidateKeyComponent(c.patient_id, "patient id", false));
  RETURN_IF_ERROR(ValidateKeyComponent(c.accession_number, "accession number", false));
  RETURN_IF_ERROR(ValidateKeyComponent(c.modality, "modality", false));
  RETURN_IF_ERROR(ValidateKeyComponent(c.date_from, "study date from", false));
  RETURN_IF_ERROR(ValidateKeyComponent(c.date_to, "study date to", false));
  StudyRange r;
  r.residual = c;
  r.residual.date_from.clear();
  r.residual.date_to.clear();
  if (!c.patient_id.empty()) {
    r.prefix = keys::PatientPrefix(c.patient_id);
    r.residual.patient_id.clear();
  } else if (!c.accession_number.empty()) {
    r.prefix = keys::AccessionPrefix(c.accession_number);
    r.residual.accession_number.clear();
  } else if (!c.modality.empty()) {
    r.prefix = keys::ModalityPrefix(c.modality);
    r.residual.modality.clear();
  } else {
    r.prefix = keys::DatePrefix();
  }
  r.empty = !c.date_from.empty() && !c.date_to.empty() && c.date_from > c.date_to;
  // [start, end) covers exactly the dates in [from, to]. With any date bound, studies without a
  // date do not match: their entries (prefix + "\0" + uid) sort before prefix + "\x01".
  r.start = r.prefix;
  if (!c.date_from.empty()) {
    absl::StrAppend(&r.start, c.date_from);
  } else if (!c.date_to.empty()) {
    r.start.push_back('\x01');
  }
  r.end = c.date_to.empty() ? keys::PrefixSuccessor(r.prefix)
                            : absl::StrCat(r.prefix, c.date_to, "\x01");
  return r;
}

bool MeetsResidual(const StudyRange& range, const v1::StudySummary& summary) {
  const StudyCriteria& c = range.residual;
  if (!c.patient_id.empty() && summary.patient_id() != c.patient_id) return false;
  if (!c.accession_number.empty() && summary.accession_number() != c.accession_number) {
    return false;
  }
  if (!c.modality.empty() && std::find(summary.modalities().begin(), summary.modalities().end(),
                                       c.modality) == summary.modalities().end()) {
    return false;
  }
  return true;
}

}  // namespace medvault::metaserver
