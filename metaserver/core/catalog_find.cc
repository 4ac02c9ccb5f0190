// Catalog::FindSeries and FindInstances: rows of the series (instance) level, each with its study,
// read from the same secondary indexes as FindStudies (study_range.h), then from each study's
// series listing ('t') and each series' instance listing ('s'). A page resumes after its last
// row (LevelCursor), so paging never rereads what an earlier page returned.
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "medvault/v1/metaserver_store.pb.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"
#include "metaserver/core/study_range.h"

namespace medvault::metaserver {
namespace {

// Records (studies, series, instances) one call examines at most, checked between studies: the
// page then ends with a token that resumes after the last study read whole.
constexpr size_t kMaxScannedPerPage = 100000;

// Every key of `cf` starting with `prefix`, without it, in key order; or only `only` when given
// (and present).
absl::StatusOr<std::vector<std::string>> Listing(const KvReader& state, const std::string& prefix,
                                                 const std::string& only) {
  std::vector<std::string> out;
  if (!only.empty()) {
    ASSIGN_OR_RETURN(bool present, state.Exists(kIndexCf, absl::StrCat(prefix, only)));
    if (present) out.push_back(only);
    return out;
  }
  RETURN_IF_ERROR(state.ScanPrefix(kIndexCf, prefix, [&](absl::string_view key, absl::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  }));
  return out;
}

// One walk over the rows of a LevelQuery, collecting a page.
class LevelWalk {
 public:
  LevelWalk(const KvReader& state, const v1::LevelQuery& q, bool instances)
      : state_(state), q_(q), instances_(instances) {
    page_size_ = q.page_size() == 0 ? kDefaultPageSize : std::min(q.page_size(), kMaxPageSize);
  }

  absl::Status Run() {
    RETURN_IF_ERROR(ValidateKeyComponent(q_.series_uid(), "series UID", false));
    RETURN_IF_ERROR(ValidateKeyComponent(q_.sop_instance_uid(), "SOP Instance UID", false));
    const StudyCriteria criteria = CriteriaOf(q_);
    ASSIGN_OR_RETURN(StudyRange range, ChooseStudyRange(criteria));
    const bool has_cursor = !q_.page_token().empty();
    if (has_cursor && !cursor_.ParseFromString(q_.page_token())) {
      return absl::InvalidArgumentError("page token does not belong to this query");
    }
    // The one study a query names: by UID, or as the study of the series or instance it names
    // (read from that record: a series or instance UID never scans the study indexes).
    std::string study_uid = q_.study_uid();
    if (!study_uid.empty()) RETURN_IF_ERROR(CheckUid(study_uid, "study UID"));
    bool named = !study_uid.empty();
    if (!named && (!q_.series_uid().empty() || (instances_ && !q_.sop_instance_uid().empty()))) {
      named = true;
      ASSIGN_OR_RETURN(study_uid, StudyOfNamedRow());
      if (study_uid.empty()) return absl::OkStatus();  // not stored
    }
    if (named) {
      if (has_cursor && cursor_.study_key() != study_uid) {
        return absl::InvalidArgumentError("page token does not belong to this query");
      }
      if (range.empty || (has_cursor && cursor_.study_done())) return absl::OkStatus();
      v1::StoredStudy study;
      bool found = false;
      RETURN_IF_ERROR(ReadOptional(state_, kStudiesCf, study_uid, &study, &found));
      const v1::StudySummary& s = study.summary();
      // The single study must still meet every study-level criterion (dates included).
      if (!found || !MeetsResidual(range, s) || !MeetsCriterion(criteria, s)) {
        return absl::OkStatus();
      }
      bool full = false;
      return VisitStudy(study_uid, s, has_cursor, &full);
    }
    if (has_cursor && !range.Contains(cursor_.study_key())) {
      return absl::InvalidArgumentError("page token does not belong to this query");
    }
    if (range.empty) return absl::OkStatus();
    std::unique_ptr<rocksdb::Iterator> it = state_.NewIterator(kIndexCf);
    std::string last_done;
    for (it->Seek(has_cursor ? cursor_.study_key() : range.start); it->Valid(); it->Next()) {
      const absl::string_view key(it->key().data(), it->key().size());
      if (!range.Contains(key)) break;
      const bool resume = has_cursor && key == cursor_.study_key();
      if (resume && cursor_.study_done()) continue;
      if (scanned_ > kMaxScannedPerPage && !last_done.empty()) {
        v1::LevelCursor next;
        next.set_study_key(last_done);
        next.set_study_done(true);
        next_token_ = next.SerializeAsString();
        break;
      }
      ++scanned_;
      v1::StoredStudy study;
      bool found = false;
      RETURN_IF_ERROR(ReadOptional(state_, kStudiesCf, keys::StudyUidOf(key), &study, &found));
      if (found && MeetsResidual(range, study.summary())) {
        bool full = false;
        RETURN_IF_ERROR(VisitStudy(key, study.summary(), resume, &full));
        if (full) break;
      }
      last_done.assign(key.data(), key.size());
    }
    return FromRocksStatus(it->status(), "scanning the study index");
  }

  std::vector<v1::InstanceRow>& rows() { return rows_; }
  const std::string& next_token() const { return next_token_; }

 private:
  // A study read by UID is not in a dated index range: check its date here.
  static bool MeetsCriterion(const StudyCriteria& c, const v1::StudySummary& s) {
    if (!c.date_from.empty() && (s.study_date().empty() || s.study_date() < c.date_from)) {
      return false;
    }
    if (!c.date_to.empty() && (s.study_date().empty() || s.study_date() > c.date_to)) return false;
    if (!c.patient_id.empty() && s.patient_id() != c.patient_id) return false;
    if (!c.accession_number.empty() && s.accession_number() != c.accession_number) return false;
    return true;
  }

  // The study UID of the series the query names, else of the instance it names; empty when that
  // record is not stored (or the instance is not in the series named).
  absl::StatusOr<std::string> StudyOfNamedRow() {
    bool found = false;
    if (!q_.series_uid().empty()) {
      v1::StoredSeries series;
      RETURN_IF_ERROR(ReadOptional(state_, kSeriesCf, q_.series_uid(), &series, &found));
      return found ? series.study_uid() : std::string();
    }
    RETURN_IF_ERROR(CheckUid(q_.sop_instance_uid(), "SOP Instance UID"));
    v1::StoredInstance instance;
    RETURN_IF_ERROR(ReadOptional(state_, kInstancesCf, q_.sop_instance_uid(), &instance, &found));
    return found ? instance.info().tags().study_uid() : std::string();
  }

  // Adds the rows of one study; `*full` when the page filled (the token is then set).
  absl::Status VisitStudy(absl::string_view study_key, const v1::StudySummary& study, bool resume,
                          bool* full) {
    ASSIGN_OR_RETURN(std::vector<std::string> series_uids,
                     Listing(state_, keys::StudySeriesPrefix(study.study_uid()), q_.series_uid()));
    for (const std::string& series_uid : series_uids) {
      if (resume && series_uid < cursor_.series_uid()) continue;
      if (resume && !instances_ && series_uid == cursor_.series_uid()) continue;
      v1::StoredSeries series;
      bool found = false;
      RETURN_IF_ERROR(ReadOptional(state_, kSeriesCf, series_uid, &series, &found));
      ++scanned_;
      if (!found) continue;
      v1::SeriesInfo& info = *series.mutable_info();
      info.clear_instances();
      if (!q_.modality().empty() && info.modality() != q_.modality()) continue;
      if (!instances_) {
        if (!Emit(study_key, study, info, nullptr)) return Full(full);
        continue;
      }
      ASSIGN_OR_RETURN(
          std::vector<std::string> sops,
          Listing(state_, keys::SeriesInstancePrefix(series_uid), q_.sop_instance_uid()));
      const bool resume_series = resume && series_uid == cursor_.series_uid();
      for (const std::string& sop : sops) {
        if (resume_series && sop <= cursor_.sop_instance_uid()) continue;
        v1::StoredInstance instance;
        RETURN_IF_ERROR(ReadOptional(state_, kInstancesCf, sop, &instance, &found));
        ++scanned_;
        if (!found) continue;
        if (!Emit(study_key, study, info, &instance.info())) return Full(full);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Full(bool* full) {
    *full = true;
    next_token_ = last_emitted_.SerializeAsString();
    return absl::OkStatus();
  }

  // Adds a row unless the page is full (false).
  bool Emit(absl::string_view study_key, const v1::StudySummary& study,
            const v1::SeriesInfo& series, const v1::InstanceInfo* instance) {
    v1::InstanceRow row;
    *row.mutable_study() = study;
    *row.mutable_series() = series;
    if (instance != nullptr) *row.mutable_instance() = *instance;
    const size_t bytes = row.ByteSizeLong();
    if (rows_.size() == page_size_ || (!rows_.empty() && page_bytes_ + bytes > kMaxPageBytes)) {
      return false;
    }
    page_bytes_ += bytes;
    rows_.push_back(std::move(row));
    last_emitted_.set_study_key(std::string(study_key));
    last_emitted_.set_series_uid(series.series_uid());
    if (instance != nullptr)
      last_emitted_.set_sop_instance_uid(instance->tags().sop_instance_uid());
    return true;
  }

  const KvReader& state_;
  const v1::LevelQuery& q_;
  const bool instances_;
  size_t page_size_;
  v1::LevelCursor cursor_;
  v1::LevelCursor last_emitted_;
  std::vector<v1::InstanceRow> rows_;
  size_t page_bytes_ = 0;
  size_t scanned_ = 0;
  std::string next_token_;
};

}  // namespace

absl::StatusOr<v1::SeriesPage> Catalog::FindSeries(const v1::LevelQuery& query) const {
  KvReader state(kv_);
  LevelWalk walk(state, query, /*instances=*/false);
  RETURN_IF_ERROR(walk.Run());
  v1::SeriesPage page;
  for (v1::InstanceRow& row : walk.rows()) {
    v1::SeriesRow& out = *page.add_rows();
    *out.mutable_study() = std::move(*row.mutable_study());
    *out.mutable_series() = std::move(*row.mutable_series());
  }
  page.set_next_page_token(walk.next_token());
  return page;
}

absl::StatusOr<v1::InstancePage> Catalog::FindInstances(const v1::LevelQuery& query) const {
  KvReader state(kv_);
  LevelWalk walk(state, query, /*instances=*/true);
  RETURN_IF_ERROR(walk.Run());
  v1::InstancePage page;
  for (v1::InstanceRow& row : walk.rows()) *page.add_rows() = std::move(row);
  page.set_next_page_token(walk.next_token());
  return page;
}

}  // namespace medvault::metaserver
