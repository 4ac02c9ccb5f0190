// Fakes for the frontend core's tests that retrieve a whole study under one key release
// (set_retrieval_test, key_grants_test): the metaserver's GetStudy over the fake index, and the
// keys a set release answers with. Over core_fakes.h.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "frontend/testing/core_fakes.h"

namespace medvault::frontend {

// The keys of `ids` as `keys` holds them, one entry per id in order (NOT_FOUND for a missing
// one), without FakeKeys::on_get_key: what a fake's set release (GetDataKeys) answers.
inline std::vector<absl::StatusOr<SecretBytes>> KeysHeld(const FakeKeys& keys,
                                                         const std::vector<std::string>& ids) {
  std::vector<absl::StatusOr<SecretBytes>> out;
  for (const std::string& id : ids) {
    auto it = keys.keys.find(id);
    if (it == keys.keys.end()) {
      out.push_back(absl::NotFoundError("no such key"));
    } else {
      out.push_back(SecretBytes(it->second));
    }
  }
  return out;
}

// The metaserver fake with GetStudy: the index's instances of the study, grouped by series UID
// (NOT_FOUND when it has none).
class StudyIndexMeta : public FakeMeta {
 public:
  using FakeMeta::FakeMeta;
  absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string& study_uid) override {
    std::map<std::string, v1::SeriesInfo> series;
    for (const auto& [sop, rec] : instances) {
      if (rec.info().tags().study_uid() != study_uid) continue;
      v1::SeriesInfo& s = series[rec.info().tags().series_uid()];
      s.set_series_uid(rec.info().tags().series_uid());
      *s.add_instances() = rec.info();
    }
    if (series.empty()) return absl::NotFoundError("no such study");
    v1::GetStudyMetaResponse r;
    for (auto& [uid, s] : series) *r.add_series() = std::move(s);
    return r;
  }
};

}  // namespace medvault::frontend
