#include "frontend/query/index_query.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace medvault::frontend {
namespace {

constexpr uint32_t kPageSize = 1000;

std::string Number(int64_t n) { return n == 0 ? std::string() : absl::StrCat(n); }

bool Exact(const std::string& v) {
  return !v.empty() && v != "*" && v.find_first_of("*?\\") == std::string::npos;
}

bool IsDate(absl::string_view d) {
  return d.size() == 8 && std::all_of(d.begin(), d.end(), absl::ascii_isdigit);
}

bool Is(const IndexKey& k, const char* tag) { return absl::string_view(k.attribute->tag) == tag; }

// The distinct UIDs a UID key lists ("*" and empty values list none).
std::vector<std::string> Uids(const std::string& value) {
  std::vector<std::string> out;
  for (absl::string_view v : absl::StrSplit(value, '\\', absl::SkipEmpty())) {
    const std::string uid(absl::StripAsciiWhitespace(v));
    if (uid.empty() || uid == "*") continue;
    if (std::find(out.begin(), out.end(), uid) == out.end()) out.push_back(uid);
  }
  return out;
}

}  // namespace

const std::vector<IndexAttribute>& IndexAttributes() {
  using L = IndexLevel;
  using M = MatchVr;
  static const auto* kAll = new std::vector<IndexAttribute>{
      {"00080016", "SOPClassUID", "UI", L::kInstance, M::kUid, true,
       [](const IndexRow& r) { return r.instance->tags().sop_class_uid(); }},
      {"00080018", "SOPInstanceUID", "UI", L::kInstance, M::kUid, true,
       [](const IndexRow& r) { return r.instance->tags().sop_instance_uid(); }},
      {"00080020", "StudyDate", "DA", L::kStudy, M::kDate, true,
       [](const IndexRow& r) { return r.study->study_date(); }},
      {"00080030", "StudyTime", "TM", L::kStudy, M::kTime, true,
       [](const IndexRow& r) { return r.study->study_time(); }},
      {"00080050", "AccessionNumber", "SH", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return r.study->accession_number(); }},
      {"00080056", "InstanceAvailability", "CS", L::kStudy, M::kText, true,
       [](const IndexRow&) { return std::string("ONLINE"); }},
      {"00080060", "Modality", "CS", L::kSeries, M::kText, true,
       [](const IndexRow& r) { return r.series->modality(); }},
      {"00080061", "ModalitiesInStudy", "CS", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return absl::StrJoin(r.study->modalities(), "\\"); }},
      {"00080090", "ReferringPhysicianName", "PN", L::kStudy, M::kText, false,
       [](const IndexRow&) { return std::string(); }},
      {"00081030", "StudyDescription", "LO", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return r.study->study_description(); }},
      {"0008103E", "SeriesDescription", "LO", L::kSeries, M::kText, true,
       [](const IndexRow& r) { return r.series->series_description(); }},
      {"00100010", "PatientName", "PN", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return r.study->patient_name(); }},
      {"00100020", "PatientID", "LO", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return r.study->patient_id(); }},
      {"00100030", "PatientBirthDate", "DA", L::kStudy, M::kDate, true,
       [](const IndexRow& r) { return r.study->patient_birth_date(); }},
      {"00100040", "PatientSex", "CS", L::kStudy, M::kText, true,
       [](const IndexRow& r) { return r.study->patient_sex(); }},
      {"0020000D", "StudyInstanceUID", "UI", L::kStudy, M::kUid, true,
       [](const IndexRow& r) { return r.study->study_uid(); }},
      {"0020000E", "SeriesInstanceUID", "UI", L::kSeries, M::kUid, true,
       [](const IndexRow& r) { return r.series->series_uid(); }},
      {"00200010", "StudyID", "SH", L::kStudy, M::kText, false,
       [](const IndexRow&) { return std::string(); }},
      {"00200011", "SeriesNumber", "IS", L::kSeries, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.series->series_number()); }},
      {"00200013", "InstanceNumber", "IS", L::kInstance, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.instance->tags().instance_number()); }},
      {"00201206", "NumberOfStudyRelatedSeries", "IS", L::kStudy, M::kNumber, true,
       [](const IndexRow& r) { return absl::StrCat(r.study->series_count()); }},
      {"00201208", "NumberOfStudyRelatedInstances", "IS", L::kStudy, M::kNumber, true,
       [](const IndexRow& r) { return absl::StrCat(r.study->instance_count()); }},
      {"00201209", "NumberOfSeriesRelatedInstances", "IS", L::kSeries, M::kNumber, true,
       [](const IndexRow& r) { return absl::StrCat(r.series->instance_count()); }},
      {"00280008", "NumberOfFrames", "IS", L::kInstance, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.instance->tags().number_of_frames()); }},
      {"00280010", "Rows", "US", L::kInstance, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.instance->tags().rows()); }},
      {"00280011", "Columns", "US", L::kInstance, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.instance->tags().columns()); }},
      {"00280100", "BitsAllocated", "US", L::kInstance, M::kNumber, true,
       [](const IndexRow& r) { return Number(r.instance->tags().bits_allocated()); }},
  };
  return *kAll;
}

const IndexAttribute* FindIndexAttribute(absl::string_view tag) {
  for (const IndexAttribute& a : IndexAttributes()) {
    if (tag == a.tag) return &a;
  }
  return nullptr;
}

const IndexAttribute* FindIndexAttributeByKeyword(absl::string_view keyword) {
  for (const IndexAttribute& a : IndexAttributes()) {
    if (keyword == a.keyword) return &a;
  }
  return nullptr;
}

bool RowMatches(const std::vector<IndexKey>& keys, const IndexRow& row) {
  for (const IndexKey& k : keys) {
    if (!k.attribute->indexed) continue;
    const std::string value = k.attribute->value(row);
    if (Is(k, "00080061")) {  // any modality of the study
      bool any = false;
      for (absl::string_view want : absl::StrSplit(k.value, '\\')) {
        for (absl::string_view m : absl::StrSplit(value, '\\')) {
          any |= MatchesKey(MatchVr::kText, want, m);
        }
      }
      if (!any) return false;
    } else if (!MatchesKey(k.attribute->match, k.value, value)) {
      return false;
    }
  }
  return true;
}

std::vector<v1::LevelQuery> NarrowingQueries(const std::vector<IndexKey>& keys, IndexLevel level) {
  v1::LevelQuery q;
  // The first key of each UID attribute narrows (a second one is only matched on the rows).
  std::vector<std::string> study_uids, series_uids, sop_uids;
  bool study_seen = false, series_seen = false, sop_seen = false;
  for (const IndexKey& k : keys) {
    if (k.attribute->level > level) continue;
    if (Is(k, "0020000D") && !study_seen) {
      study_seen = true;
      study_uids = Uids(k.value);
    } else if (Is(k, "0020000E") && !series_seen) {
      series_seen = true;
      series_uids = Uids(k.value);
    } else if (Is(k, "00080018") && !sop_seen) {
      sop_seen = true;
      sop_uids = Uids(k.value);
    } else if (Is(k, "00100020") && Exact(k.value)) {
      q.set_patient_id(k.value);
    } else if (Is(k, "00080050") && Exact(k.value)) {
      q.set_accession_number(k.value);
    } else if ((Is(k, "00080060") || (Is(k, "00080061") && level == IndexLevel::kStudy)) &&
               Exact(k.value)) {
      q.set_modality(k.value);
    } else if (Is(k, "00080020") && k.value.find_first_of("*?\\") == std::string::npos) {
      const size_t dash = k.value.find('-');
      const std::string from = k.value.substr(0, dash);
      const std::string to = dash == std::string::npos ? from : k.value.substr(dash + 1);
      if ((from.empty() || IsDate(from)) && (to.empty() || IsDate(to))) {
        q.set_study_date_from(from);
        q.set_study_date_to(to);
      }
    }
  }
  // Single UIDs narrow as they are; the most specific UID key listing several fans out into one
  // search per UID (the others are matched on the rows).
  if (study_uids.size() == 1) q.set_study_uid(study_uids[0]);
  if (series_uids.size() == 1) q.set_series_uid(series_uids[0]);
  if (sop_uids.size() == 1) q.set_sop_instance_uid(sop_uids[0]);
  std::vector<std::string>* fan = sop_uids.size() > 1      ? &sop_uids
                                  : series_uids.size() > 1 ? &series_uids
                                  : study_uids.size() > 1  ? &study_uids
                                                           : nullptr;
  if (fan == nullptr) return {q};
  // A list under a single UID of a more specific level (a series UID with a list of study UIDs)
  // is left to the row matching: the single UID narrows more.
  if ((fan == &study_uids && (series_uids.size() == 1 || sop_uids.size() == 1)) ||
      (fan == &series_uids && sop_uids.size() == 1)) {
    return {q};
  }
  std::vector<v1::LevelQuery> out;
  for (const std::string& uid : *fan) {
    v1::LevelQuery one = q;
    if (fan == &sop_uids) one.set_sop_instance_uid(uid);
    if (fan == &series_uids) one.set_series_uid(uid);
    if (fan == &study_uids) one.set_study_uid(uid);
    out.push_back(std::move(one));
  }
  return out;
}

absl::StatusOr<WalkResult> WalkIndex(const IndexSource& source, IndexLevel level,
                                     const std::vector<IndexKey>& keys, size_t max_examined,
                                     const std::function<bool(const IndexRow&)>& visit) {
  WalkResult result;
  // False when the walk must stop: `visit` had enough, or the budget ran out.
  auto take = [&](const IndexRow& row) {
    if (max_examined != 0 && result.examined >= max_examined) return false;
    ++result.examined;
    return !RowMatches(keys, row) || visit(row);
  };
  for (const v1::LevelQuery& q : NarrowingQueries(keys, level)) {
    std::string token;
    do {
      bool go_on = true;
      if (level == IndexLevel::kStudy && q.study_uid().empty()) {
        v1::FindStudiesRequest find;
        v1::StudyQuery& sq = *find.mutable_query();
        sq.set_patient_id(q.patient_id());
        sq.set_accession_number(q.accession_number());
        sq.set_modality(q.modality());
        sq.set_study_date_from(q.study_date_from());
        sq.set_study_date_to(q.study_date_to());
        sq.set_page_size(kPageSize);
        sq.set_page_token(token);
        absl::StatusOr<v1::FindStudiesResponse> page = source.studies(find);
        if (!page.ok()) return page.status();
        for (const v1::StudySummary& s : page->page().studies()) {
          if (!(go_on = take(IndexRow{&s, nullptr, nullptr}))) break;
        }
        token = page->page().next_page_token();
      } else if (level != IndexLevel::kInstance) {
        // A study named by UID: its summary comes with its first series row.
        v1::FindSeriesRequest find;
        *find.mutable_query() = q;
        find.mutable_query()->set_page_size(level == IndexLevel::kStudy ? 1 : kPageSize);
        find.mutable_query()->set_page_token(token);
        absl::StatusOr<v1::FindSeriesResponse> page = source.series(find);
        if (!page.ok()) return page.status();
        for (const v1::SeriesRow& r : page->page().rows()) {
          const v1::SeriesInfo* series = level == IndexLevel::kStudy ? nullptr : &r.series();
          if (!(go_on = take(IndexRow{&r.study(), series, nullptr}))) break;
        }
        token = level == IndexLevel::kStudy ? "" : page->page().next_page_token();
      } else {
        v1::FindInstancesRequest find;
        *find.mutable_query() = q;
        find.mutable_query()->set_page_size(kPageSize);
        find.mutable_query()->set_page_token(token);
        absl::StatusOr<v1::FindInstancesResponse> page = source.instances(find);
        if (!page.ok()) return page.status();
        for (const v1::InstanceRow& r : page->page().rows()) {
          if (!(go_on = take(IndexRow{&r.study(), &r.series(), &r.instance()}))) break;
        }
        token = page->page().next_page_token();
      }
      if (!go_on) return result;
      // The budget spent with more pages to come: stop before reading another.
      if (max_examined != 0 && result.examined >= max_examined && !token.empty()) return result;
    } while (!token.empty());
  }
  result.complete = true;
  return result;
}

}  // namespace medvault::frontend
