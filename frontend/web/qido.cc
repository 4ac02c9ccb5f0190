#include "frontend/web/qido.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctag.h"
#include "frontend/query/index_query.h"

namespace medvault::frontend::web {
namespace {

constexpr uint32_t kDefaultLimit = 1000;
constexpr uint32_t kMaxLimit = 10000;
// Rows read from the index for one request at most (matched or not): a search whose keys the
// indexes cannot narrow ends with a partial answer instead of reading the whole archive.
constexpr size_t kMaxRowsExamined = 200000;

IndexLevel LevelOf(QidoLevel level) {
  switch (level) {
    case QidoLevel::kStudy:
      return IndexLevel::kStudy;
    case QidoLevel::kSeries:
      return IndexLevel::kSeries;
    default:
      return IndexLevel::kInstance;
  }
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

// "PatientID" or "00100020" as the 8 upper-case hex digits of its tag; NOT_FOUND when neither
// a DICOM keyword nor a tag.
absl::StatusOr<std::string> TagOf(const std::string& key) {
  if (key.size() == 8 && std::all_of(key.begin(), key.end(), absl::ascii_isxdigit)) {
    return absl::AsciiStrToUpper(key);
  }
  if (const IndexAttribute* a = FindIndexAttributeByKeyword(key)) return std::string(a->tag);
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

}  // namespace

absl::StatusOr<QidoAnswer> AnswerQido(const QidoSource& source, const QidoRequest& request) {
  const QidoLevel level = request.level;
  const IndexLevel index_level = LevelOf(level);
  QidoAnswer answer;
  uint32_t limit = kDefaultLimit, offset = 0;
  bool all = false;
  std::set<std::string> include;
  std::vector<IndexKey> keys;
  if (!request.study_uid.empty()) {
    keys.push_back({FindIndexAttribute("0020000D"), request.study_uid});
  }
  if (!request.series_uid.empty()) {
    keys.push_back({FindIndexAttribute("0020000E"), request.series_uid});
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
    const IndexAttribute* a = FindIndexAttribute(*tag);
    if (a == nullptr || !a->indexed || a->level > index_level) {
      answer.ignored.push_back(*tag);
      continue;
    }
    std::string v = value;
    // QIDO-RS lists UIDs with commas (PS3.18 8.3.4.1); C-FIND matching takes backslashes.
    if (a->match == MatchVr::kUid) absl::StrReplaceAll({{",", "\\"}}, &v);
    keys.push_back({a, v});
  }
  limit = std::min(limit == 0 ? kDefaultLimit : limit, kMaxLimit);

  // Attributes returned: the level's defaults (and those of the levels above when the path does
  // not fix them), the matching keys, includefield.
  std::set<std::string> returned = Defaults(level);
  if (level != QidoLevel::kStudy && request.study_uid.empty()) {
    returned.insert(Defaults(QidoLevel::kStudy).begin(), Defaults(QidoLevel::kStudy).end());
  }
  if (level == QidoLevel::kInstance && request.series_uid.empty()) {
    returned.insert(Defaults(QidoLevel::kSeries).begin(), Defaults(QidoLevel::kSeries).end());
  }
  for (const IndexKey& k : keys) returned.insert(k.attribute->tag);
  for (const IndexAttribute& a : IndexAttributes()) {
    if (a.level <= index_level && (all || include.count(a.tag))) returned.insert(a.tag);
  }

  // Exact values narrow the index search; every key is matched on the rows (index_query.h).
  std::vector<std::string> items;
  uint32_t skipped = 0;
  absl::StatusOr<WalkResult> walked =
      WalkIndex(source, index_level, keys, kMaxRowsExamined, [&](const IndexRow& row) {
        if (skipped < offset) {
          ++skipped;
          return true;
        }
        std::string item = "{";
        for (const std::string& tag : returned) {
          const IndexAttribute* a = FindIndexAttribute(tag);
          if (a == nullptr || a->level > index_level) continue;
          if (item.size() > 1) item += ',';
          item += JsonAttribute(a->tag, a->vr, a->value(row));
        }
        if (!request.base_url.empty()) {
          std::string url = absl::StrCat(request.base_url, "/studies/", row.study->study_uid());
          if (level != QidoLevel::kStudy) {
            absl::StrAppend(&url, "/series/", row.series->series_uid());
          }
          if (level == QidoLevel::kInstance) {
            absl::StrAppend(&url, "/instances/", row.instance->tags().sop_instance_uid());
          }
          absl::StrAppend(&item, item.size() > 1 ? "," : "", JsonAttribute("00081190", "UR", url));
        }
        item += '}';
        items.push_back(std::move(item));
        return items.size() < limit;
      });
  if (!walked.ok()) return walked.status();
  answer.truncated = items.size() < limit && !walked->complete;
  answer.json = absl::StrCat("[", absl::StrJoin(items, ","), "]");
  return answer;
}

}  // namespace medvault::frontend::web
