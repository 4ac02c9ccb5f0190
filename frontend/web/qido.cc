#include "frontend/web/qido.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctag.h"
#include "frontend/dimse/find_match.h"

namespace medvault::frontend::web {
namespace {

constexpr uint32_t kDefaultLimit = 1000;
constexpr uint32_t kMaxLimit = 10000;
// Rows read from the index for one request at most (matched or not): a search whose keys the
// indexes cannot narrow ends with a partial answer instead of reading the whole archive.
constexpr size_t kMaxRowsExamined = 200000;
constexpr uint32_t kPageSize = 1000;

// One row at the query's level.
struct Row {
  const v1::StudySummary* study = nullptr;
  const v1::SeriesInfo* series = nullptr;      // series and instance levels
  const v1::InstanceInfo* instance = nullptr;  // instance level
};

std::string Number(int64_t n) { return n == 0 ? std::string() : absl::StrCat(n); }

struct Attribute {
  const char* tag;  // "0020000D"
  const char* keyword;
  const char* vr;
  QidoLevel level;
  MatchVr match;
  bool indexed;  // false: never held (returned empty; a matching key on it is ignored)
  std::string (*value)(const Row&);  // backslash-separated values
};

const std::vector<Attribute>& Attributes() {
  using L = QidoLevel;
  using M = MatchVr;
  static const auto* kAll = new std::vector<Attribute>{
      {"00080016", "SOPClassUID", "UI", L::kInstance, M::kUid, true,
       [](const Row& r) { return r.instance->tags().sop_class_uid(); }},
      {"00080018", "SOPInstanceUID", "UI", L::kInstance, M::kUid, true,
       [](const Row& r) { return r.instance->tags().sop_instance_uid(); }},
      {"00080020", "StudyDate", "DA", L::kStudy, M::kDate, true,
       [](const Row& r) { return r.study->study_date(); }},
      {"00080030", "StudyTime", "TM", L::kStudy, M::kTime, true,
       [](const Row& r) { return r.study->study_time(); }},
      {"00080050", "AccessionNumber", "SH", L::kStudy, M::kText, true,
       [](const Row& r) { return r.study->accession_number(); }},
      {"00080056", "InstanceAvailability", "CS", L::kStudy, M::kText, true,
       [](const Row&) { return std::string("ONLINE"); }},
      {"00080060", "Modality", "CS", L::kSeries, M::kText, true,
       [](const Row& r) { return r.series->modality(); }},
      {"00080061", "ModalitiesInStudy", "CS", L::kStudy, M::kText, true,
       [](const Row& r) { return absl::StrJoin(r.study->modalities(), "\\"); }},
      {"00080090", "ReferringPhysicianName", "PN", L::kStudy, M::kText, false,
       [](const Row&) { return std::string(); }},
      {"00081030", "StudyDescription", "LO", L::kStudy, M::kText, true,
       [](const Row& r) { return r.study->study_description(); }},
      {"0008103E", "SeriesDescription", "LO", L::kSeries, M::kText, true,
       [](const Row& r) { return r.series->series_description(); }},
      {"00100010", "PatientName", "PN", L::kStudy, M::kText, true,
       [](const Row& r) { return r.study->patient_name(); }},
      {"00100020", "PatientID", "LO", L::kStudy, M::kText, true,
       [](const Row& r) { return r.study->patient_id(); }},
      {"00100030", "PatientBirthDate", "DA", L::kStudy, M::kDate, true,
       [](const Row& r) { return r.study->patient_birth_date(); }},
      {"00100040", "PatientSex", "CS", L::kStudy, M::kText, true,
       [](const Row& r) { return r.study->patient_sex(); }},
      {"0020000D", "StudyInstanceUID", "UI", L::kStudy, M::kUid, true,
       [](const Row& r) { return r.study->study_uid(); }},
      {"0020000E", "SeriesInstanceUID", "UI", L::kSeries, M::kUid, true,
       [](const Row& r) { return r.series->series_uid(); }},
      {"00200010", "StudyID", "SH", L::kStudy, M::kText, false,
       [](const Row&) { return std::string(); }},
      {"00200011", "SeriesNumber", "IS", L::kSeries, M::kNumber, true,
       [](const Row& r) { return Number(r.series->series_number()); }},
      {"00200013", "InstanceNumber", "IS", L::kInstance, M::kNumber, true,
       [](const Row& r) { return Number(r.instance->tags().instance_number()); }},
      {"00201206", "NumberOfStudyRelatedSeries", "IS", L::kStudy, M::kNumber, true,
       [](const Row& r) { return absl::StrCat(r.study->series_count()); }},
      {"00201208", "NumberOfStudyRelatedInstances", "IS", L::kStudy, M::kNumber, true,
       [](const Row& r) { return absl::StrCat(r.study->instance_count()); }},
      {"00201209", "NumberOfSeriesRelatedInstances", "IS", L::kSeries, M::kNumber, true,
       [](const Row& r) { return absl::StrCat(r.series->instance_count()); }},
      {"00280008", "NumberOfFrames", "IS", L::kInstance, M::kNumber, true,
       [](const Row& r) { return Number(r.instance->tags().number_of_frames()); }},
      {"00280010", "Rows", "US", L::kInstance, M::kNumber, true,
       [](const Row& r) { return Number(r.instance->tags().rows()); }},
      {"00280011", "Columns", "US", L::kInstance, M::kNumber, true,
       [](const Row& r) { return Number(r.instance->tags().columns()); }},
      {"00280100", "BitsAllocated", "US", L::kInstance, M::kNumber, true,
       [](const Row& r) { return Number(r.instance->tags().bits_allocated()); }},
  };
  return *kAll;
}

// The default return attributes of each level (PS3.18 tables 10.6.3-3 to 10.6.3-5, plus
// StudyDescription, which viewers list), besides RetrieveURL.
const std::set<std::string>& Defaults(QidoLevel level) {
  static const auto* kStudy =
      new std::set<std::string>{"00080020", "00080030", "00080050", "00080056", "00080061",
                                "00080090", "00081030", "00100010", "00100020", "00100030",
                                "00100040", "0020000D", "00200010", "00201206", "00201208"};
  static const auto* kSeries =
      new std::set<std::string>{"00080060", "0008103E", "0020000E", "00200011", "00201209"};
  static const auto* kInstance =
      new std::set<std::string>{"00080016", "00080018", "00080056", "00200013",
                                "00280008", "00280010", "00280011", "00280100"};
  switch (level) {
    case QidoLevel::kStudy:
      return *kStudy;
    case QidoLevel::kSeries:
      return *kSeries;
    default:
      return *kInstance;
  }
}

const Attribute* FindAttribute(const std::string& tag) {
  for (const Attribute& a : Attributes()) {
    if (tag == a.tag) return &a;
  }
  return nullptr;
}

// "PatientID" or "00100020" as the 8 upper-case hex digits of its tag; NOT_FOUND when neither
// a DICOM keyword nor a tag.
absl::StatusOr<std::string> TagOf(const std::string& key) {
  if (key.size() == 8 && std::all_of(key.begin(), key.end(), absl::ascii_isxdigit)) {
    return absl::AsciiStrToUpper(key);
  }
  for (const Attribute& a : Attributes()) {
    if (key == a.keyword) return std::string(a.tag);
  }
  DcmTag tag;
  if (DcmTag::findTagFromName(key.c_str(), tag).good() && !key.empty() &&
      absl::ascii_isupper(key[0])) {
    char hex[9];
    std::snprintf(hex, sizeof(hex), "%04X%04X", tag.getGroup(), tag.getElement());
    return std::string(hex);
  }
  return absl::NotFoundError("not an attribute");
}

// `value` as the inside of a JSON string.
std::string JsonEscape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// A DICOM JSON attribute (PS3.18 F.2): "tag":{"vr":..,"Value":[..]} (no Value when empty).
std::string JsonAttribute(const char* tag, const char* vr, const std::string& value) {
  std::string out = absl::StrCat("\"", tag, "\":{\"vr\":\"", vr, "\"");
  if (!value.empty()) {
    const absl::string_view v(vr);
    const bool number = v == "IS" || v == "US";
    std::vector<std::string> items;
    for (absl::string_view one : absl::StrSplit(value, '\\')) {
      if (v == "PN") {
        items.push_back(absl::StrCat("{\"Alphabetic\":\"", JsonEscape(one), "\"}"));
      } else if (number) {
        int64_t n = 0;
        items.push_back(absl::SimpleAtoi(one, &n) ? absl::StrCat(n) : "null");
      } else {
        items.push_back(absl::StrCat("\"", JsonEscape(one), "\""));
      }
    }
    absl::StrAppend(&out, ",\"Value\":[", absl::StrJoin(items, ","), "]");
  }
  out += '}';
  return out;
}

bool Exact(const std::string& v) {
  return !v.empty() && v != "*" && v.find_first_of("*?\\") == std::string::npos;
}

bool IsDate(absl::string_view d) {
  return d.size() == 8 && std::all_of(d.begin(), d.end(), absl::ascii_isdigit);
}

// A matching key: the attribute and the value asked for.
struct Key {
  const Attribute* attribute;
  std::string value;
};

bool Matches(const std::vector<Key>& keys, const Row& row) {
  for (const Key& k : keys) {
    const std::string value = k.attribute->value(row);
    if (std::string(k.attribute->tag) == "00080061") {  // any modality of the study
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

}  // namespace

absl::StatusOr<QidoAnswer> AnswerQido(const QidoSource& source, const QidoRequest& request) {
  const QidoLevel level = request.level;
  QidoAnswer answer;
  uint32_t limit = kDefaultLimit, offset = 0;
  bool all = false;
  std::set<std::string> include;
  std::vector<Key> keys;
  if (!request.study_uid.empty()) {
    keys.push_back({FindAttribute("0020000D"), request.study_uid});
  }
  if (!request.series_uid.empty()) {
    keys.push_back({FindAttribute("0020000E"), request.series_uid});
  }
  for (const auto& [key, value] : request.params) {
    if (key == "limit" || key == "offset") {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(value, &n)) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": not a non-negative number"));
      }
      (key == "limit" ? limit : offset) = n;
      continue;
    }
    if (key == "fuzzymatching") continue;  // not offered: matching stays exact
    if (key == "includefield") {
      for (absl::string_view f : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        const std::string field(absl::StripAsciiWhitespace(f));
        if (field == "all") {
          all = true;
          continue;
        }
        absl::StatusOr<std::string> tag = TagOf(field);
        if (!tag.ok()) return absl::InvalidArgumentError("includefield: not an attribute");
        include.insert(*tag);
      }
      continue;
    }
    absl::StatusOr<std::string> tag = TagOf(key);
    if (!tag.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("query key is not an attribute"));
    }
    const Attribute* a = FindAttribute(*tag);
    if (a == nullptr || !a->indexed || a->level > level) {
      answer.ignored.push_back(*tag);
      continue;
    }
    std::string v = value;
    // QIDO-RS lists UIDs with commas (PS3.18 8.3.4.1); C-FIND matching takes backslashes.
    if (a->match == MatchVr::kUid) absl::StrReplaceAll({{",", "\\"}}, &v);
    keys.push_back({a, v});
  }
  limit = std::min(limit == 0 ? kDefaultLimit : limit, kMaxLimit);

  // Exact values narrow the index search; every key is matched on the rows anyway.
  v1::LevelQuery q;
  for (const Key& k : keys) {
    const std::string tag = k.attribute->tag;
    const bool single_uid = !k.value.empty() && k.value.find('\\') == std::string::npos;
    if (tag == "0020000D" && single_uid) {
      if (!q.study_uid().empty() && q.study_uid() != k.value) return QidoAnswer{"[]", {}, false};
      q.set_study_uid(k.value);
    } else if (tag == "0020000E" && single_uid) {
      if (!q.series_uid().empty() && q.series_uid() != k.value) return QidoAnswer{"[]", {}, false};
      q.set_series_uid(k.value);
    } else if (tag == "00080018" && single_uid) {
      q.set_sop_instance_uid(k.value);
    } else if (tag == "00100020" && Exact(k.value)) {
      q.set_patient_id(k.value);
    } else if (tag == "00080050" && Exact(k.value)) {
      q.set_accession_number(k.value);
    } else if ((tag == "00080060" || (tag == "00080061" && level == QidoLevel::kStudy)) &&
               Exact(k.value)) {
      q.set_modality(k.value);
    } else if (tag == "00080020" && k.value.find_first_of("*?\\") == std::string::npos) {
      const size_t dash = k.value.find('-');
      const std::string from = k.value.substr(0, dash);
      const std::string to = dash == std::string::npos ? from : k.value.substr(dash + 1);
      if ((from.empty() || IsDate(from)) && (to.empty() || IsDate(to))) {
        q.set_study_date_from(from);
        q.set_study_date_to(to);
      }
    }
  }

  // Attributes returned: the level's defaults (and those of the levels above when the path does
  // not fix them), the matching keys, includefield.
  std::set<std::string> returned = Defaults(level);
  if (level != QidoLevel::kStudy && request.study_uid.empty()) {
    returned.insert(Defaults(QidoLevel::kStudy).begin(), Defaults(QidoLevel::kStudy).end());
  }
  if (level == QidoLevel::kInstance && request.series_uid.empty()) {
    returned.insert(Defaults(QidoLevel::kSeries).begin(), Defaults(QidoLevel::kSeries).end());
  }
  for (const Key& k : keys) returned.insert(k.attribute->tag);
  for (const Attribute& a : Attributes()) {
    if (a.level <= level && (all || include.count(a.tag))) returned.insert(a.tag);
  }

  std::vector<std::string> items;
  uint32_t skipped = 0;
  size_t examined = 0;
  auto take = [&](const Row& row) {
    ++examined;
    if (!Matches(keys, row)) return;
    if (skipped < offset) {
      ++skipped;
      return;
    }
    if (items.size() == limit) return;
    std::string item = "{";
    for (const std::string& tag : returned) {
      const Attribute* a = FindAttribute(tag);
      if (a == nullptr || a->level > level) continue;
      if (item.size() > 1) item += ',';
      item += JsonAttribute(a->tag, a->vr, a->value(row));
    }
    if (!request.base_url.empty()) {
      std::string url = absl::StrCat(request.base_url, "/studies/", row.study->study_uid());
      if (level != QidoLevel::kStudy) absl::StrAppend(&url, "/series/", row.series->series_uid());
      if (level == QidoLevel::kInstance) {
        absl::StrAppend(&url, "/instances/", row.instance->tags().sop_instance_uid());
      }
      absl::StrAppend(&item, item.size() > 1 ? "," : "", JsonAttribute("00081190", "UR", url));
    }
    item += '}';
    items.push_back(std::move(item));
  };
  auto done = [&] { return items.size() == limit || examined >= kMaxRowsExamined; };
  std::string token;
  do {
    if (level == QidoLevel::kStudy && q.study_uid().empty()) {
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
        if (done()) break;
        take(Row{&s, nullptr, nullptr});
      }
      token = page->page().next_page_token();
    } else if (level != QidoLevel::kInstance) {
      // A study named by UID: its summary comes with its first series row.
      v1::FindSeriesRequest find;
      *find.mutable_query() = q;
      find.mutable_query()->set_page_size(level == QidoLevel::kStudy ? 1 : kPageSize);
      find.mutable_query()->set_page_token(token);
      absl::StatusOr<v1::FindSeriesResponse> page = source.series(find);
      if (!page.ok()) return page.status();
      for (const v1::SeriesRow& r : page->page().rows()) {
        if (done()) break;
        take(Row{&r.study(), &r.series(), nullptr});
      }
      token = level == QidoLevel::kStudy ? "" : page->page().next_page_token();
    } else {
      v1::FindInstancesRequest find;
      *find.mutable_query() = q;
      find.mutable_query()->set_page_size(kPageSize);
      find.mutable_query()->set_page_token(token);
      absl::StatusOr<v1::FindInstancesResponse> page = source.instances(find);
      if (!page.ok()) return page.status();
      for (const v1::InstanceRow& r : page->page().rows()) {
        if (done()) break;
        take(Row{&r.study(), &r.series(), &r.instance()});
      }
      token = page->page().next_page_token();
    }
  } while (!token.empty() && !done());
  answer.truncated = items.size() < limit && examined >= kMaxRowsExamined && !token.empty();
  answer.json = absl::StrCat("[", absl::StrJoin(items, ","), "]");
  return answer;
}

}  // namespace medvault::frontend::web
