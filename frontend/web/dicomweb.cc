#include "frontend/web/dicomweb.h"

#include <openssl/rand.h>

#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "frontend/web/media_type.h"
#include "frontend/web/stow.h"
#include "frontend/web/wado_metadata.h"
#include "frontend/web/web_request.h"

namespace medvault::frontend::web {
namespace {

constexpr absl::string_view kPrefix = "/dicomweb";

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

}  // namespace

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

// The decoded query parameters in order (keys may repeat).
std::vector<std::pair<std::string, std::string>> ParseQueryList(absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    out.emplace_back(PercentDecode(kv.first), PercentDecode(kv.second));
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(absl::string_view query) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : ParseQueryList(query)) out[k] = std::move(v);
  return out;
}

namespace {

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

}  // namespace

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

namespace {

// Passes everything through and remembers the status sent (for the audit line).
class StatusRecorder : public HttpResponder {
 public:
  explicit StatusRecorder(HttpResponder& out) : out_(out) {}
  absl::Status Begin(int status, const HttpHeaders& headers) override {
    status_ = status;
    return out_.Begin(status, headers);
  }
  absl::Status Write(absl::string_view data) override { return out_.Write(data); }
  absl::Status End() override { return out_.End(); }
  bool begun() const override { return out_.begun(); }
  int status() const { return status_; }

 private:
  HttpResponder& out_;
  int status_ = 0;
};

}  // namespace

absl::Status DicomWeb::Handle(const HttpRequest& request, HttpResponder& out) {
  // CORS (cors.h) in this one place: preflights are answered before any authorisation, every
  // other answer carries the allow headers for an allowed Origin.
  HeaderAddingResponder cors(out, options_.cors.AnswerHeaders(request));
  StatusRecorder recorder(cors);
  std::string op = "unknown";
  absl::Status handled;
  if (options_.cors.IsPreflight(request) && absl::StartsWith(request.path, "/dicomweb/")) {
    op = "cors-preflight";
    handled = options_.cors.AnswerPreflight(request, recorder);
  } else {
    handled = Route(request, recorder, &op);
  }
  MV_LOG(INFO) << "audit op=dicomweb-" << op << " service=frontend caller="
               << (request.peer.ok() ? request.peer->ToString() : "unauthenticated")
               << " peer=" << (request.peer_address.empty() ? "-" : request.peer_address)
               << " method=" << (request.method.size() <= 8 ? request.method : "other")
               << " status=" << recorder.status() << (handled.ok() ? "" : " aborted=1");
  return handled;
}

bool DicomWeb::StreamsBody(const HttpRequest& head) {
  if (head.method != "POST") return false;
  absl::string_view path = head.path;
  if (!absl::ConsumePrefix(&path, kPrefix)) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  return (parts.size() == 1 || parts.size() == 2) && parts[0] == "studies";
}

absl::Status DicomWeb::Route(const HttpRequest& request, HttpResponder& out, std::string* op) {
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
    *op = "wado-uri";
    return get ? WadoUri(request, out) : method_not_allowed("GET");
  }
  const size_t n = parts.size();
  // QIDO-RS: /studies, /series, /instances, /studies/{s}/series, /studies/{s}/instances,
  // /studies/{s}/series/{se}/instances.
  auto search = [&](QidoLevel level, std::string study, std::string series) {
    *op = level == QidoLevel::kStudy    ? "qido-studies"
          : level == QidoLevel::kSeries ? "qido-series"
                                        : "qido-instances";
    if (!get) return method_not_allowed(n == 1 && parts[0] == "studies" ? "GET, POST" : "GET");
    return Search(request, out, level, std::move(study), std::move(series));
  };
  if (n == 1 && parts[0] == "series") return search(QidoLevel::kSeries, "", "");
  if (n == 1 && parts[0] == "instances") return search(QidoLevel::kInstance, "", "");
  if (parts.empty() || parts[0] != "studies") return RespondError(out, absl::NotFoundError(""));
  if (n <= 2 && request.method == "POST") {
    *op = "stow-rs";
    if (!Authorize(request, "PutInstance", out).ok()) return absl::OkStatus();
    const std::string host = request.Header("host");
    const std::string base = host.empty() || host.find_first_of("/\"\\ ") != std::string::npos
                                 ? std::string(kPrefix)
                                 : absl::StrCat("https://", host, kPrefix);
    return ServeStow(request, out, StartInstanceOn(core_), n == 2 ? parts[1] : "",
                     options_.max_instance_bytes, base);
  }
  if (n == 1) return search(QidoLevel::kStudy, "", "");
  if (n == 3 && parts[2] == "series") return search(QidoLevel::kSeries, parts[1], "");
  if (n == 3 && parts[2] == "instances") return search(QidoLevel::kInstance, parts[1], "");
  if (n == 5 && parts[2] == "series" && parts[4] == "instances") {
    return search(QidoLevel::kInstance, parts[1], parts[3]);
  }
  // WADO-RS metadata (study, series, instance) and bulk data (wado_metadata.h): `read` scope.
  const bool metadata =
      parts[n - 1] == "metadata" && (n == 3 || (n == 5 && parts[2] == "series") ||
                                     (n == 7 && parts[2] == "series" && parts[4] == "instances"));
  const bool bulkdata =
      n >= 8 && parts[2] == "series" && parts[4] == "instances" && parts[6] == "bulkdata";
  if (metadata || bulkdata) {
    *op = metadata ? "wado-metadata" : "wado-bulkdata";
    if (!get) return method_not_allowed("GET");
    absl::StatusOr<std::string> caller = Authorize(request, "GetInstance", out);
    if (!caller.ok()) return absl::OkStatus();
    absl::Status answered =
        metadata ? AnswerMetadata(core_, request, out, *caller, parts[1], n >= 5 ? parts[3] : "",
                                  n == 7 ? parts[5] : "")
                 : AnswerBulkdata(core_, request, out, *caller, parts[1], parts[3], parts[5],
                                  absl::StrJoin(parts.begin() + 7, parts.end(), "/"));
    return answered.ok() || out.begun() ? answered : RespondError(out, answered);
  }
  // WADO-RS pixels (wado_pixels.cc): .../instances/{i}/{rendered,thumbnail},
  // .../instances/{i}/frames/{list}[/rendered|/thumbnail], studies/{s}[/series/{se}]/{rendered,
  // thumbnail}
  const bool set_pixels = (n == 3 || (n == 5 && parts[2] == "series")) &&
                          (parts[n - 1] == "rendered" || parts[n - 1] == "thumbnail");
  if (set_pixels || (n >= 7 && parts[2] == "series" && parts[4] == "instances")) {
    return Pixels(request, out, parts, op);
  }
  // WADO-RS: studies/{s}, studies/{s}/series/{se}, studies/{s}/series/{se}/instances/{i}
  const bool shape_ok = n == 2 || (n == 4 && parts[2] == "series") ||
                        (n == 6 && parts[2] == "series" && parts[4] == "instances");
  if (!shape_ok) return RespondError(out, absl::NotFoundError(""));
  *op = "wado-rs";
  if (!get) return method_not_allowed(n == 2 ? "GET, POST" : "GET");
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
  // Each instance is one part; the answer begins with the first instance's first bytes, so an
  // instance gone since the index was read still gets a clean error status.
  bool part_open = false;
  const ImageStoreCore::Sink parts = [&](const v1::InstanceInfo* got, uint64_t,
                                         absl::string_view data) -> absl::Status {
    if (got != nullptr) {
      if (!out.begun()) {
        absl::Status s = out.Begin(
            200,
            {{"Content-Type",
              absl::StrCat("multipart/related; type=\"application/dicom\"; boundary=", boundary)}});
        if (!s.ok()) return s;
      }
      std::string part = absl::StrCat(part_open ? "\r\n" : "", "--", boundary,
                                      "\r\nContent-Type: application/dicom");
      if (!got->tags().transfer_syntax_uid().empty()) {
        absl::StrAppend(&part, "; transfer-syntax=", got->tags().transfer_syntax_uid());
      }
      absl::StrAppend(&part, "\r\n\r\n");
      part_open = true;
      if (absl::Status s = out.Write(part); !s.ok()) return s;
    }
    return out.Write(data);
  };
  // A study or series is one retrieval: its keys released in one audited call and instances
  // read ahead (set_retrieval.h). MEDVAULT_WADO_PER_INSTANCE=1 in the frontend's environment
  // reads instance by instance instead (one key release each): the A/B of docs/benchmarks.md.
  static const bool per_instance = std::getenv("MEDVAULT_WADO_PER_INSTANCE") != nullptr;
  if (instance.empty() && !per_instance) {
    absl::Status read =
        core_->RetrieveSet(*list, parts, *caller, "RetrieveStudy", request.peer_address);
    if (!read.ok()) return out.begun() ? read : RespondError(out, read);
  } else {
    for (const v1::InstanceInfo& info : *list) {
      v1::GetInstanceRequest get;
      get.set_sop_instance_uid(info.tags().sop_instance_uid());
      absl::Status read = core_->Get(get, parts, *caller, request.peer_address);
      if (!read.ok()) return out.begun() ? read : RespondError(out, read);
    }
  }
  if (absl::Status s = out.Write(absl::StrCat("\r\n--", boundary, "--\r\n")); !s.ok()) return s;
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
      *caller, request.peer_address);
  if (!read.ok()) return out.begun() ? read : RespondError(out, read);
  return out.End();
}

absl::Status DicomWeb::Search(const HttpRequest& request, HttpResponder& out, QidoLevel level,
                              std::string study, std::string series) {
  const char* method = level == QidoLevel::kStudy    ? "FindStudies"
                       : level == QidoLevel::kSeries ? "FindSeries"
                                                     : "FindInstances";
  if (!Authorize(request, method, out).ok()) return absl::OkStatus();
  const std::string accept = request.Header("accept");
  if (!accept.empty()) {
    bool json = false;
    for (const MediaType& m : ParseAccept(accept)) {
      json |= m.type == "*/*" || m.type == "application/*" || m.type == "application/json" ||
              m.type == "application/dicom+json";
    }
    if (!json) {
      return Respond(out, 406, "text/plain", "only application/dicom+json is served\n");
    }
  }
  QidoRequest q;
  q.level = level;
  q.study_uid = std::move(study);
  q.series_uid = std::move(series);
  q.params = ParseQueryList(request.query);
  const std::string host = request.Header("host");
  if (!host.empty() && host.find_first_of("/\"\\ ") == std::string::npos) {
    q.base_url = absl::StrCat("https://", host, kPrefix);
  }
  QidoSource source{[this](const v1::FindStudiesRequest& r) { return core_->FindStudies(r); },
                    [this](const v1::FindSeriesRequest& r) { return core_->FindSeries(r); },
                    [this](const v1::FindInstancesRequest& r) { return core_->FindInstances(r); }};
  absl::StatusOr<QidoAnswer> answer = AnswerQido(source, q);
  if (absl::IsInvalidArgument(answer.status())) {
    // The message names the parameter, never its value.
    return Respond(out, 400, "text/plain", absl::StrCat(answer.status().message(), "\n"));
  }
  if (!answer.ok()) return RespondError(out, answer.status());
  HttpHeaders extra;
  if (!answer->ignored.empty()) {
    extra.emplace_back("Warning", absl::StrCat("299 medvault \"query keys not supported: ",
                                               absl::StrJoin(answer->ignored, ","), "\""));
  }
  if (answer->truncated) {
    extra.emplace_back("Warning", "299 medvault \"too many candidates; the answer is partial\"");
  }
  return Respond(out, 200, "application/dicom+json", answer->json, extra);
}

}  // namespace medvault::frontend::web
