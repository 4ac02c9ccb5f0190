// Catalog reads that span many records: FindStudies (served from a secondary index) and GetStudy.
#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"
#include "metaserver/core/study_range.h"

namespace medvault::metaserver {
namespace {

// Index entries one FindStudies call examines at most (entries filtered out included). When the
// budget runs out the page ends early with a token that resumes the scan, so one call's cost is
// bounded however selective the filters are.
constexpr size_t kMaxScannedPerPage = 100000;

}  // namespace

absl::StatusOr<v1::StudyPage> Catalog::FindStudies(const v1::StudyQuery& query) const {
  const StudyCriteria criteria = CriteriaOf(query);
  ASSIGN_OR_RETURN(StudyRange range, ChooseStudyRange(criteria));
  const size_t page_size = query.page_size() == 0
                               ? kDefaultPageSize
                               : std::min<uint32_t>(query.page_size(), kMaxPageSize);
  v1::StudyPage page;
  if (range.empty) return page;
  std::string start = range.start;
  auto before_end = [&range](absl::string_view key) {
    return range.end.empty() || key < range.end;
  };

  if (!query.page_token().empty()) {
    const std::string& token = query.page_token();
    if (!range.Contains(token)) {
      return absl::InvalidArgumentError("page token does not belong to this query");
    }
    start = token;
    start.push_back('\0');  // the smallest key after the token
  }

  KvReader state(kv_);
  std::unique_ptr<rocksdb::Iterator> it = state.NewIterator(kIndexCf);
  // The last entry examined: every entry before it was returned or filtered out, so a page that
  // stops here resumes after it.
  std::string last_key;
  size_t scanned = 0;
  size_t page_bytes = 0;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (!before_end(key)) break;
    if (++scanned > kMaxScannedPerPage) {
      page.set_next_page_token(last_key);
      break;
    }
    v1::StoredStudy study;
    absl::Status s = state.GetProto(kStudiesCf, keys::StudyUidOf(key), &study);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    // A missing record cannot happen (entries and records change in one batch); skip it.
    const bool matches = s.ok() && MeetsResidual(range, study.summary());
    if (matches) {
      const size_t bytes = study.summary().ByteSizeLong();
      if (static_cast<size_t>(page.studies_size()) == page_size ||
          (page.studies_size() > 0 && page_bytes + bytes > kMaxPageBytes)) {
        // A further match exists, so there is a next page.
        page.set_next_page_token(last_key);
        break;
      }
      page_bytes += bytes;
      v1::StudySummary* summary = page.add_studies();
      *summary = study.summary();
      RETURN_IF_ERROR(AttachRetention(state, study, summary));
    }
    last_key = std::string(key);
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the study index"));
  return page;
}

absl::StatusOr<StudyDetail> Catalog::GetStudy(absl::string_view study_uid) const {
  RETURN_IF_ERROR(CheckUid(study_uid, "study UID"));
  KvReader state(kv_);
  v1::StoredStudy study;
  absl::Status s = state.GetProto(kStudiesCf, study_uid, &study);
  if (absl::IsNotFound(s)) return absl::NotFoundError("no such study");
  RETURN_IF_ERROR(s);
  StudyDetail detail;
  detail.study = study.summary();
  RETURN_IF_ERROR(AttachRetention(state, study, &detail.study));

  std::vector<std::string> series_uids;
  const std::string series_prefix = keys::StudySeriesPrefix(study_uid);
  RETURN_IF_ERROR(
      state.ScanPrefix(kIndexCf, series_prefix, [&](absl::string_view key, absl::string_view) {
        series_uids.emplace_back(key.substr(series_prefix.size()));
        return true;
      }));
  for (const std::string& series_uid : series_uids) {
    v1::StoredSeries series;
    s = state.GetProto(kSeriesCf, series_uid, &series);
    if (absl::IsNotFound(s)) continue;
    RETURN_IF_ERROR(s);
    v1::SeriesInfo info = series.info();
    std::vector<std::string> sops;
    const std::string instance_prefix = keys::SeriesInstancePrefix(series_uid);
    RETURN_IF_ERROR(
        state.ScanPrefix(kIndexCf, instance_prefix, [&](absl::string_view key, absl::string_view) {
          sops.emplace_back(key.substr(instance_prefix.size()));
          return true;
        }));
    for (const std::string& sop : sops) {
      v1::StoredInstance instance;
      s = state.GetProto(kInstancesCf, sop, &instance);
      if (absl::IsNotFound(s)) continue;
      RETURN_IF_ERROR(s);
      *info.add_instances() = instance.info();
    }
    std::sort(info.mutable_instances()->begin(), info.mutable_instances()->end(),
              [](const v1::InstanceInfo& a, const v1::InstanceInfo& b) {
                return std::make_tuple(a.tags().instance_number(), a.tags().sop_instance_uid()) <
                       std::make_tuple(b.tags().instance_number(), b.tags().sop_instance_uid());
              });
    detail.series.push_back(std::move(info));
  }
  std::sort(detail.series.begin(), detail.series.end(),
            [](const v1::SeriesInfo& a, const v1::SeriesInfo& b) {
              return std::make_tuple(a.series_number(), a.series_uid()) <
                     std::make_tuple(b.series_number(), b.series_uid());
            });
  return detail;
}

}  // namespace medvault::metaserver
