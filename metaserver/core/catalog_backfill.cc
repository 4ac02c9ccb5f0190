// Catalog::BackfillStudies: index entries and summary fields that studies committed by an older
// metaserver lack (the accession-number index 'a'; StudyTime and PatientSex in the summary),
// written through the writer (the Raft group) like any mutation, so every replica applies the same
// batches. Idempotent: a study that already has them is not rewritten.
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {
namespace {

// The first instance of the study's first series (in index order), or found = false.
absl::Status FirstInstance(const KvReader& state, const std::string& study_uid,
                           v1::StoredInstance* instance, bool* found) {
  *found = false;
  std::string series_uid, sop;
  const std::string series_prefix = keys::StudySeriesPrefix(study_uid);
  RETURN_IF_ERROR(state.ScanPrefix(kIndexCf, series_prefix, [&](absl::string_view key, auto) {
    series_uid = std::string(key.substr(series_prefix.size()));
    return false;
  }));
  if (series_uid.empty()) return absl::OkStatus();
  const std::string sop_prefix = keys::SeriesInstancePrefix(series_uid);
  RETURN_IF_ERROR(state.ScanPrefix(kIndexCf, sop_prefix, [&](absl::string_view key, auto) {
    sop = std::string(key.substr(sop_prefix.size()));
    return false;
  }));
  if (sop.empty()) return absl::OkStatus();
  return ReadOptional(state, kInstancesCf, sop, instance, found);
}

}  // namespace

absl::StatusOr<BackfillPage> Catalog::BackfillStudies(absl::string_view after, size_t max_studies) {
  if (max_studies == 0) max_studies = kMaxBackfillStudies;
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  BackfillPage page;
  KvReader state(kv_);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it = state.NewIterator(kStudiesCf);
  std::string start(after);
  if (!after.empty()) start.push_back('\0');  // the smallest key after it
  std::string last_key;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (page.scanned == max_studies) {
      page.next_page_token = last_key;
      break;
    }
    ++page.scanned;
    last_key.assign(key.data(), key.size());
    v1::StoredStudy study;
    if (!study.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return KvReader::CorruptRecord(kStudiesCf);
    }
    v1::StudySummary& s = *study.mutable_summary();
    bool fixed = false;
    if (!s.accession_number().empty()) {
      const std::string entry =
          keys::AccessionIndex(s.accession_number(), s.study_date(), s.study_uid());
      ASSIGN_OR_RETURN(bool present, state.Exists(kIndexCf, entry));
      if (!present) {
        batch.Put(state.cf(kIndexCf), entry, "");
        ++page.accession_entries;
        fixed = true;
      }
    }
    if (s.study_time().empty() || s.patient_sex().empty()) {
      v1::StoredInstance first;
      bool found = false;
      RETURN_IF_ERROR(FirstInstance(state, s.study_uid(), &first, &found));
      const std::string time = !study.study_time().empty()
                                   ? study.study_time()
                                   : (found ? first.info().tags().study_time() : "");
      const std::string sex = found ? first.info().tags().patient_sex() : "";
      bool changed = false;
      if (s.study_time().empty() && !time.empty()) {
        s.set_study_time(time);
        changed = true;
      }
      if (s.patient_sex().empty() && !sex.empty()) {
        s.set_patient_sex(sex);
        changed = true;
      }
      if (changed) {
        batch.Put(state.cf(kStudiesCf), ToSlice(key), Encode(study));
        ++page.summaries;
        fixed = true;
      }
    }
    if (fixed) ++page.studies_fixed;
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the study records"));
  if (batch.Count() > 0) {
    RETURN_IF_ERROR(Annotate(writer_->Write(&batch), "backfilling the study index"));
  }
  return page;
}

absl::StatusOr<BackfillPage> Catalog::BackfillAllStudies() {
  BackfillPage total;
  std::string after;
  do {
    ASSIGN_OR_RETURN(BackfillPage page, BackfillStudies(after, 0));
    total.scanned += page.scanned;
    total.studies_fixed += page.studies_fixed;
    total.accession_entries += page.accession_entries;
    total.summaries += page.summaries;
    after = page.next_page_token;
  } while (!after.empty());
  return total;
}

}  // namespace medvault::metaserver
