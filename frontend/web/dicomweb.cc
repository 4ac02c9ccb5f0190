#include "frontend/web/dicomweb.h"

#include <openssl/rand.h>

#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "frontend/web/media_type.h"

namespace medvault::frontend::web {
namespace {

constexpr absl::string_view kPrefix = "/dicomweb";
constexpr uint32_t kDefaultLimit = 100;
constexpr uint32_t kMaxLimit = 1000;

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

// The answer to a failed request: the code's name only (a message could quote the request).
absl::Status RespondError(HttpResponder& out, const absl::Status& why) {
  return Respond(out, HttpStatusOf(why), "text/plain",
                 absl::StrCat(absl::StatusCodeToString(why.code()), "\n"));
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '%' && i + 2 < s.size() + 0 && absl::ascii_isxdigit(s[i + 1]) &&
        absl::ascii_isxdigit(s[i + 2])) {
      hi = absl::ascii_isdigit(s[i + 1]) ? s[i + 1] - '0' : (s[i + 1] | 0x20) - 'a' + 10;
      lo = absl::ascii_isdigit(s[i + 2]) ? s[i + 2] - '0' : (s[i + 2] | 0x20) - 'a' + 10;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(absl::string_view query) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    out[PercentDecode(kv.first)] = PercentDecode(kv.second);
  }
  return out;
}

// True when the Accept value lets us answer multipart/related of application/dicom in the stored
// transfer syntax.
bool AcceptsStoredDicomMultipart(const std::string& accept) {
  if (accept.empty()) return true;
  for (const MediaType& m : ParseAccept(accept)) {
    if (m.type == "*/*" || m.type == "multipart/*") return true;
    if (m.type != "multipart/related") continue;
    const std::string type = m.Param("type");
    const std::string ts = m.Param("transfer-syntax");
    if ((type.empty() || type == "application/dicom") && (ts.empty() || ts == "*")) return true;
  }
  return false;
}

bool AcceptsStoredDicom(const std::string& accept) {
  if (accept.empty()) return true;
  for (const MediaType& m : ParseAccept(accept)) {
    const std::string ts = m.Param("transfer-syntax");
    if ((m.type == "*/*" || m.type == "application/*" || m.type == "application/dicom") &&
        (ts.empty() || ts == "*")) {
      return true;
    }
  }
  return false;
}

std::string NewBoundary() {
  unsigned char random[16];
  if (RAND_bytes(random, sizeof(random)) != 1) return "medvault-boundary-0";
  return absl::StrCat("medvault-", absl::BytesToHexString(absl::string_view(
                                       reinterpret_cast<const char*>(random), sizeof(random))));
}

// The instances of the study (index only), narrowed to one series and one instance when given.
absl::StatusOr<std::vector<v1::InstanceInfo>> Instances(ImageStoreCore* core,
                                                        const std::string& study,
                                                        const std::string& series,
                                                        const std::string& instance) {
  v1::GetStudyRequest request;
  request.set_study_uid(study);
  absl::StatusOr<v1::GetStudyResponse> found = core->GetStudy(request);
  if (!found.ok()) return found.status();
  std::vector<v1::InstanceInfo> out;
  for (const v1::SeriesInfo& s : found->series()) {
    if (!series.empty() && s.series_uid() != series) continue;
    for (const v1::InstanceInfo& i : s.instances()) {
      if (instance.empty() || i.tags().sop_instance_uid() == instance) out.push_back(i);
    }
  }
  if (out.empty()) return absl::NotFoundError("no such series or instance");
  return out;
}

// `value` as the inside of a JSON string.
std::string JsonEscape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::BytesToHexString(absl::string_view(&c, 1)));
    } else {
      out += c;
    }
  }
  return out;
}

// Appends a DICOM JSON attribute (PS3.18 F.2) with one string value, when it has one.
void AddString(std::string& json, const char* tag, const char* vr, const std::string& value) {
  if (!json.empty() && json.back() != '{') json += ',';
  absl::StrAppend(&json, "\"", tag, "\":{\"vr\":\"", vr, "\"");
  if (!value.empty()) {
    const std::string escaped = JsonEscape(value);
    if (std::string(vr) == "PN") {
      absl::StrAppend(&json, ",\"Value\":[{\"Alphabetic\":\"", escaped, "\"}]");
    } else if (std::string(vr) == "IS") {
      absl::StrAppend(&json, ",\"Value\":[", value, "]");
    } else {
      absl::StrAppend(&json, ",\"Value\":[\"", escaped, "\"]");
    }
  }
  json += '}';
}

}  // namespace

absl::StatusOr<std::string> DicomWeb::Authorize(const HttpRequest& request, const char* method,
                                                HttpResponder& out) {
  if (authz_ == nullptr) return std::string();
  absl::StatusOr<PeerIdentity> who = authz_->AuthorizeIdentity(request.peer, method);
  if (!who.ok()) {
    (void)RespondError(out, who.status());
    return who.status();
  }
  return who->ToString();
}

absl::Status DicomWeb::Handle(const HttpRequest& request, HttpResponder& out) {
  absl::string_view path = request.path;
  if (!absl::ConsumePrefix(&path, kPrefix) || (!path.empty() && path[0] != '/')) {
    return RespondError(out, absl::NotFoundError(""));
  }
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    parts.push_back(PercentDecode(p));
  }
  const bool get = request.method == "GET";
  auto method_not_allowed = [&](const char* allow) {
    return Respond(out, 405, "text/plain", "method not allowed\n", {{"Allow", allow}});
  };
  if (parts.size() == 1 && parts[0] == "wado") {
    return get ? WadoUri(request, out) : method_not_allowed("GET");
  }
  if (parts.empty() || parts[0] != "studies") return RespondError(out, absl::NotFoundError(""));
  if (parts.size() == 1) {
    if (get) return SearchStudies(request, out);
    if (request.method == "POST") {
      // STOW-RS is not built yet: only the scope check, so a read-only client learns it may not.
      if (!Authorize(request, "PutInstance", out).ok()) return absl::OkStatus();
      return Respond(out, 501, "text/plain", "STOW-RS is not implemented yet\n");
    }
    return method_not_allowed("GET, POST");
  }
  // studies/{s}, studies/{s}/series/{se}, studies/{s}/series/{se}/instances/{i}
  const size_t n = parts.size();
  const bool shape_ok = n == 2 || (n == 4 && parts[2] == "series") ||
                        (n == 6 && parts[2] == "series" && parts[4] == "instances");
  if (!shape_ok) return RespondError(out, absl::NotFoundError(""));
  if (!get) return method_not_allowed("GET");
  return RetrieveStudy(request, out, parts[1], n >= 4 ? parts[3] : "", n == 6 ? parts[5] : "");
}

absl::Status DicomWeb::RetrieveStudy(const HttpRequest& request, HttpResponder& out,
                                     const std::string& study, const std::string& series,
                                     const std::string& instance) {
  absl::StatusOr<std::string> caller = Authorize(request, "GetInstance", out);
  if (!caller.ok()) return absl::OkStatus();
  if (!AcceptsStoredDicomMultipart(request.Header("accept"))) {
    return Respond(out, 406, "text/plain",
                   "only multipart/related; type=\"application/dicom\" of the stored transfer "
                   "syntax (transfer-syntax=*) is served\n");
  }
  absl::StatusOr<std::vector<v1::InstanceInfo>> list = Instances(core_, study, series, instance);
  if (!list.ok()) return RespondError(out, list.status());
  const std::string boundary = NewBoundary();
  for (const v1::InstanceInfo& info : *list) {
    v1::GetInstanceRequest get;
    get.set_sop_instance_uid(info.tags().sop_instance_uid());
    // Begins the answer with the first instance's first bytes, so an instance gone since the
    // index was read still gets a clean error status.
    absl::Status read = core_->Get(
        get,
        [&](const v1::InstanceInfo* got, uint64_t, absl::string_view data) -> absl::Status {
          if (got != nullptr) {
            if (!out.begun()) {
              absl::Status s = out.Begin(
                  200, {{"Content-Type",
                         absl::StrCat("multipart/related; type=\"application/dicom\"; boundary=",
                                      boundary)}});
              if (!s.ok()) return s;
            }
            std::string part = absl::StrCat("--", boundary, "\r\nContent-Type: application/dicom");
            if (!got->tags().transfer_syntax_uid().empty()) {
              absl::StrAppend(&part, "; transfer-syntax=", got->tags().transfer_syntax_uid());
            }
            absl::StrAppend(&part, "\r\n\r\n");
            if (absl::Status s = out.Write(part); !s.ok()) return s;
          }
          return out.Write(data);
        },
        *caller);
    if (!read.ok()) return out.begun() ? read : RespondError(out, read);
    if (absl::Status s = out.Write("\r\n"); !s.ok()) return s;
  }
  if (absl::Status s = out.Write(absl::StrCat("--", boundary, "--\r\n")); !s.ok()) return s;
  return out.End();
}

absl::Status DicomWeb::WadoUri(const HttpRequest& request, HttpResponder& out) {
  absl::StatusOr<std::string> caller = Authorize(request, "GetInstance", out);
  if (!caller.ok()) return absl::OkStatus();
  std::map<std::string, std::string> q = ParseQuery(request.query);
  if (q["requestType"] != "WADO" || q["studyUID"].empty() || q["seriesUID"].empty() ||
      q["objectUID"].empty()) {
    return Respond(out, 400, "text/plain",
                   "requestType=WADO, studyUID, seriesUID and objectUID are required\n");
  }
  const std::string content_type = q["contentType"];
  if ((!content_type.empty() && content_type != "application/dicom") ||
      !AcceptsStoredDicom(request.Header("accept"))) {
    return Respond(out, 406, "text/plain", "only application/dicom is served\n");
  }
  absl::StatusOr<std::vector<v1::InstanceInfo>> list =
      Instances(core_, q["studyUID"], q["seriesUID"], q["objectUID"]);
  if (!list.ok()) return RespondError(out, list.status());
  v1::GetInstanceRequest get;
  get.set_sop_instance_uid(q["objectUID"]);
  absl::Status read = core_->Get(
      get,
      [&](const v1::InstanceInfo* got, uint64_t, absl::string_view data) -> absl::Status {
        if (got != nullptr) {
          if (absl::Status s = out.Begin(200, {{"Content-Type", "application/dicom"}}); !s.ok()) {
            return s;
          }
        }
        return out.Write(data);
      },
      *caller);
  if (!read.ok()) return out.begun() ? read : RespondError(out, read);
  return out.End();
}

absl::Status DicomWeb::SearchStudies(const HttpRequest& request, HttpResponder& out) {
  if (!Authorize(request, "FindStudies", out).ok()) return absl::OkStatus();
  v1::StudyQuery query;
  uint32_t limit = kDefaultLimit, offset = 0;
  bool ignored = false;
  for (const auto& [key, value] : ParseQuery(request.query)) {
    if (key == "PatientID" || key == "00100020") {
      if (value.find_first_of("*?\\") != std::string::npos) {
        return Respond(out, 400, "text/plain", "PatientID: only single-value matching\n");
      }
      query.set_patient_id(value);
    } else if (key == "StudyDate" || key == "00080020") {
      std::pair<std::string, std::string> range = absl::StrSplit(value, absl::MaxSplits('-', 1));
      query.set_study_date_from(range.first);
      query.set_study_date_to(value.find('-') == std::string::npos ? range.first : range.second);
    } else if (key == "ModalitiesInStudy" || key == "00080061") {
      query.set_modality(value);
    } else if (key == "limit") {
      if (!absl::SimpleAtoi(value, &limit)) {
        return Respond(out, 400, "text/plain", "limit: not a number\n");
      }
      limit = std::min(limit, kMaxLimit);
    } else if (key == "offset") {
      if (!absl::SimpleAtoi(value, &offset)) {
        return Respond(out, 400, "text/plain", "offset: not a number\n");
      }
    } else if (key != "includefield" && key != "fuzzymatching") {
      ignored = true;
    }
  }
  std::string json = "[";
  uint32_t skipped = 0, sent = 0;
  query.set_page_size(std::min<uint32_t>(kMaxLimit, offset + limit));
  while (sent < limit) {
    v1::FindStudiesRequest find;
    *find.mutable_query() = query;
    absl::StatusOr<v1::FindStudiesResponse> page = core_->FindStudies(find);
    if (!page.ok()) return RespondError(out, page.status());
    for (const v1::StudySummary& s : page->page().studies()) {
      if (skipped < offset) {
        ++skipped;
        continue;
      }
      if (sent == limit) break;
      std::string item = "{";
      AddString(item, "00080020", "DA", s.study_date());
      AddString(item, "00080050", "SH", s.accession_number());
      std::string modalities;
      for (const std::string& m : s.modalities()) {
        absl::StrAppend(&modalities, modalities.empty() ? "" : "\",\"", JsonEscape(m));
      }
      absl::StrAppend(&item, ",\"00080061\":{\"vr\":\"CS\"",
                      modalities.empty() ? "" : absl::StrCat(",\"Value\":[\"", modalities, "\"]"),
                      "}");
      AddString(item, "00081030", "LO", s.study_description());
      AddString(item, "00100010", "PN", s.patient_name());
      AddString(item, "00100020", "LO", s.patient_id());
      AddString(item, "00100030", "DA", s.patient_birth_date());
      AddString(item, "0020000D", "UI", s.study_uid());
      AddString(item, "00201206", "IS", absl::StrCat(s.series_count()));
      AddString(item, "00201208", "IS", absl::StrCat(s.instance_count()));
      absl::StrAppend(&json, sent == 0 ? "" : ",", item, "}");
      ++sent;
    }
    if (page->page().next_page_token().empty()) break;
    query.set_page_token(page->page().next_page_token());
  }
  json += "]";
  HttpHeaders extra;
  if (ignored) extra.emplace_back("Warning", "299 medvault \"some query keys are not supported\"");
  return Respond(out, 200, "application/dicom+json", json, extra);
}

}  // namespace medvault::frontend::web
