// GetInstanceHeaders: the stored headers of a study's instances (WADO-RS /metadata), one page per
// call, read from one snapshot.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {

absl::StatusOr<v1::GetInstanceHeadersResponse> Catalog::GetInstanceHeaders(
    const v1::GetInstanceHeadersRequest& request) const {
  RETURN_IF_ERROR(CheckUid(request.study_uid(), "study UID"));
  if (!request.series_uid().empty()) RETURN_IF_ERROR(CheckUid(request.series_uid(), "series UID"));
  if (!request.sop_instance_uid().empty()) {
    if (request.series_uid().empty()) {
      return absl::InvalidArgumentError("sop_instance_uid needs series_uid");
    }
    RETURN_IF_ERROR(CheckUid(request.sop_instance_uid(), "SOP Instance UID"));
  }
  // The token is the last (series UID, SOP Instance UID) returned, NUL-separated.
  std::string after_series, after_sop;
  if (!request.page_token().empty()) {
    const size_t nul = request.page_token().find('\0');
    if (nul == std::string::npos) return absl::InvalidArgumentError("malformed page token");
    after_series = request.page_token().substr(0, nul);
    after_sop = request.page_token().substr(nul + 1);
  }
  KvReader state(kv_);
  ASSIGN_OR_RETURN(bool study_found, state.Exists(kStudiesCf, request.study_uid()));
  if (!study_found) return absl::NotFoundError("no such study");

  std::vector<std::string> series_uids;
  if (!request.series_uid().empty()) {
    ASSIGN_OR_RETURN(
        bool in_study,
        state.Exists(kIndexCf, keys::StudySeries(request.study_uid(), request.series_uid())));
    if (!in_study) return absl::NotFoundError("no such series in the study");
    series_uids.push_back(request.series_uid());
  } else {
    const std::string prefix = keys::StudySeriesPrefix(request.study_uid());
    RETURN_IF_ERROR(
        state.ScanPrefix(kIndexCf, prefix, [&](absl::string_view key, absl::string_view) {
          series_uids.emplace_back(key.substr(prefix.size()));
          return true;
        }));
  }

  v1::GetInstanceHeadersResponse page;
  size_t page_bytes = 0;
  for (const std::string& series_uid : series_uids) {
    if (series_uid < after_series) continue;
    std::vector<std::string> sops;
    if (!request.sop_instance_uid().empty()) {
      sops.push_back(request.sop_instance_uid());
    } else {
      const std::string prefix = keys::SeriesInstancePrefix(series_uid);
      RETURN_IF_ERROR(
          state.ScanPrefix(kIndexCf, prefix, [&](absl::string_view key, absl::string_view) {
            sops.emplace_back(key.substr(prefix.size()));
            return true;
          }));
    }
    for (const std::string& sop : sops) {
      if (series_uid == after_series && sop <= after_sop) continue;
      if (page.instances_size() > 0 && page_bytes >= kMaxHeaderPageBytes) {
        page.set_next_page_token(absl::StrCat(
            page.instances(page.instances_size() - 1).info().tags().series_uid(),
            std::string(1, '\0'),
            page.instances(page.instances_size() - 1).info().tags().sop_instance_uid()));
        return page;
      }
      v1::StoredInstance instance;
      absl::Status s = state.GetProto(kInstancesCf, sop, &instance);
      if (absl::IsNotFound(s)) continue;
      RETURN_IF_ERROR(s);
      if (instance.info().tags().series_uid() != series_uid) continue;
      v1::InstanceHeaderEntry* entry = page.add_instances();
      *entry->mutable_info() = std::move(*instance.mutable_info());
      if (instance.has_header()) {
        page_bytes += instance.header().dataset().size();
        *entry->mutable_header() = std::move(*instance.mutable_header());
      }
    }
  }
  if (page.instances_size() == 0 && request.page_token().empty()) {
    return absl::NotFoundError("no such instance in the study");
  }
  return page;
}

}  // namespace medvault::metaserver
