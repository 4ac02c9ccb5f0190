#include "frontend/web/share_web.h"

#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/media/pdi.h"
#include "common/media/pdi_index.h"

namespace medvault::frontend::web {
namespace {

constexpr absl::string_view kApi = "/share/api/";

int Hex(char c) {
  if (absl::ascii_isdigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

std::string Decode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && absl::ascii_isxdigit(s[i + 1]) &&
        absl::ascii_isxdigit(s[i + 2])) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> Form(absl::string_view body) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    out[Decode(kv.first)] = Decode(kv.second);
  }
  return out;
}

std::string Json(absl::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == '<' || c == '>' || c == '&') {
      // Also escapes what HTML would read, should the JSON ever be shown as a page.
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

const HttpHeaders& NoStore() {
  static const HttpHeaders* headers =
      new HttpHeaders{{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  return *headers;
}

absl::Status JsonAnswer(HttpResponder& out, int status, const std::string& json,
                        HttpHeaders extra = {}) {
  for (const auto& h : NoStore()) extra.push_back(h);
  return Respond(out, status, "application/json", json, extra);
}

absl::Status JsonError(HttpResponder& out, int status, absl::string_view message) {
  return JsonAnswer(out, status, absl::StrCat("{\"error\":", Json(message), "}"));
}

// A cross-origin request (Origin present and not this host) must not act.
bool SameOrigin(const HttpRequest& request) {
  const std::string origin = request.Header("origin");
  if (origin.empty()) return true;
  return origin == absl::StrCat("https://", request.Header("host"));
}

constexpr char kPageSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

std::string ContentTypeOf(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".map")) return "application/json";
  return "application/octet-stream";
}

// A page file name: letters, digits, '.', '_', '-' and '/' between components; no "..".
bool SafeName(absl::string_view name) {
  if (name.empty() || name.front() == '/' || absl::StrContains(name, "..") ||
      absl::StrContains(name, "//"))
    return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '/')
      return false;
  }
  return true;
}

// Where a download builds its DICOMDIR: memory (/dev/shm) when the system has it.
std::string ScratchDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  struct stat st;
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) return "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

}  // namespace

absl::Status ShareWeb::PageFile(const std::string& name, HttpResponder& out) {
  if (fs_ == nullptr || page_dir_.empty() || !SafeName(name))
    return Respond(out, 404, "text/plain", "NOT_FOUND\n");
  absl::StatusOr<std::string> content = fs_->ReadFile(page_dir_ + "/" + name);
  if (!content.ok()) return Respond(out, 404, "text/plain", "NOT_FOUND\n");
  return Respond(out, 200, ContentTypeOf(name), *content,
                 {{"Content-Security-Policy", kPageSecurityPolicy},
                  {"X-Content-Type-Options", "nosniff"},
                  {"X-Frame-Options", "DENY"},
                  {"Referrer-Policy", "no-referrer"},
                  {"Cache-Control", "no-cache"}});
}

std::string ShareWeb::CookieValue(const std::string& header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

absl::Status ShareWeb::Handle(const HttpRequest& request, HttpResponder& out) {
  const std::string cookie = CookieValue(request.Header("cookie"), kShareCookie);
  if (request.method == "GET" && (request.path == "/" || request.path == "/index.html"))
    return PageFile("index.html", out);
  if (request.method == "GET" && absl::StartsWith(request.path, "/share/app/"))
    return PageFile(request.path.substr(std::string("/share/app/").size()), out);
  if (request.path == "/share/api/redeem") {
    if (request.method != "POST")
      return Respond(out, 405, "text/plain", "method not allowed\n", {{"Allow", "POST"}});
    return Redeem(request, out);
  }
  if (absl::StartsWith(request.path, kApi)) {
    absl::StatusOr<ShareSession> session = sessions_->Touch(cookie);
    if (!session.ok()) return JsonError(out, 401, "no open session");
    if (request.path == "/share/api/session" && request.method == "GET")
      return SessionInfo(*session, out);
    if (request.path == "/share/api/download" && request.method == "GET")
      return Download(request, cookie, *session, out);
    if (request.path == "/share/api/logout" && request.method == "POST") {
      if (!SameOrigin(request) || request.Header("x-csrf-token") != session->csrf_token)
        return JsonError(out, 403, "cross-site request refused");
      sessions_->Close(cookie);
      return JsonAnswer(out, 200, "{}",
                        {{"Set-Cookie", absl::StrCat(kShareCookie,
                                                     "=; Path=/; Max-Age=0; HttpOnly; Secure; "
                                                     "SameSite=Strict")}});
    }
    return JsonError(out, 404, "no such endpoint");
  }
  // A client certificate wins: certificate holders use DICOMweb as before.
  if (absl::StartsWith(request.path, "/dicomweb/") && !request.peer.ok() && !cookie.empty()) {
    absl::StatusOr<ShareSession> session = sessions_->Touch(cookie);
    if (!session.ok()) return JsonError(out, 401, "the session has ended; open the share again");
    return SessionDicomWeb(request, cookie, *session, out);
  }
  return next_(request, out);
}

absl::Status ShareWeb::Redeem(const HttpRequest& request, HttpResponder& out) {
  if (!SameOrigin(request)) return JsonError(out, 403, "cross-site request refused");
  std::map<std::string, std::string> form = Form(request.body);
  absl::StatusOr<Redemption> redeemed =
      desk_->Redeem(form["code"], form["pin"], request.peer_address);
  if (!redeemed.ok()) {
    const absl::Status& why = redeemed.status();
    if (absl::IsResourceExhausted(why)) return JsonError(out, 429, why.message());
    if (absl::IsPermissionDenied(why)) return JsonError(out, 403, why.message());
    return JsonError(out, 503, "the archive is not reachable; try again shortly");
  }
  ShareSession session;
  absl::StatusOr<std::string> cookie =
      sessions_->Open(redeemed->code_hash, redeemed->share, &session);
  if (!cookie.ok()) return JsonError(out, 503, "could not open a session");
  return JsonAnswer(
      out, 200,
      absl::StrCat("{\"csrf\":", Json(session.csrf_token), ",\"share_id\":", Json(session.share_id),
                   ",\"download\":", session.download_allowed ? "true" : "false", "}"),
      {{"Set-Cookie",
        absl::StrCat(kShareCookie, "=", *cookie, "; Path=/; HttpOnly; Secure; SameSite=Strict")}});
}

absl::Status ShareWeb::SessionInfo(const ShareSession& session, HttpResponder& out) {
  std::string json =
      absl::StrCat("{\"share_id\":", Json(session.share_id), ",\"csrf\":", Json(session.csrf_token),
                   ",\"download\":", session.download_allowed ? "true" : "false", ",\"studies\":[");
  bool first_study = true;
  for (const std::string& uid : session.study_uids) {
    v1::GetStudyRequest get;
    get.set_study_uid(uid);
    absl::StatusOr<v1::GetStudyResponse> study = core_->GetStudy(get);
    if (absl::IsNotFound(study.status())) continue;  // deleted since it was shared
    if (!study.ok()) return JsonError(out, 503, "the archive is not reachable; try again shortly");
    const v1::StudySummary& s = study->study();
    absl::StrAppend(&json, first_study ? "" : ",", "{\"study_uid\":", Json(s.study_uid()),
                    ",\"patient_name\":", Json(s.patient_name()),
                    ",\"patient_id\":", Json(s.patient_id()),
                    ",\"study_date\":", Json(s.study_date()),
                    ",\"description\":", Json(s.study_description()), ",\"series\":[");
    first_study = false;
    bool first_series = true;
    for (const v1::SeriesInfo& se : study->series()) {
      absl::StrAppend(&json, first_series ? "" : ",", "{\"series_uid\":", Json(se.series_uid()),
                      ",\"modality\":", Json(se.modality()),
                      ",\"description\":", Json(se.series_description()),
                      ",\"number\":", se.series_number(), ",\"instances\":[");
      first_series = false;
      bool first_instance = true;
      for (const v1::InstanceInfo& i : se.instances()) {
        absl::StrAppend(&json, first_instance ? "" : ",", Json(i.tags().sop_instance_uid()));
        first_instance = false;
      }
      json += "]}";
    }
    json += "]}";
  }
  json += "]}";
  return JsonAnswer(out, 200, json);
}

absl::Status ShareWeb::InScope(const HttpRequest& request, const ShareSession& session) {
  const absl::Status not_found = absl::NotFoundError("");
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(request.path, '/', absl::SkipEmpty()))
    parts.push_back(Decode(p));
  // parts[0] == "dicomweb"
  std::string study, series, instance;
  if (parts.size() == 2 && parts[1] == "wado") {
    std::map<std::string, std::string> q = Form(request.query);
    study = q["studyUID"];
    series = q["seriesUID"];
    instance = q["objectUID"];
    if (study.empty()) return not_found;
  } else if (parts.size() >= 3 && parts[1] == "studies") {
    study = parts[2];
    if (parts.size() >= 5 && parts[3] == "series") series = parts[4];
    if (parts.size() >= 7 && parts[5] == "instances") instance = parts[6];
  } else {
    return not_found;  // searches and anything else: the session page lists its studies itself
  }
  if (session.study_uids.count(study) == 0) return not_found;
  if (series.empty() && instance.empty()) return absl::OkStatus();
  // The series and instance must belong to the shared study, whatever the handler behind checks.
  v1::GetStudyRequest get;
  get.set_study_uid(study);
  absl::StatusOr<v1::GetStudyResponse> found = core_->GetStudy(get);
  if (!found.ok()) return found.status();
  for (const v1::SeriesInfo& se : found->series()) {
    if (!series.empty() && se.series_uid() != series) continue;
    if (instance.empty()) return absl::OkStatus();
    for (const v1::InstanceInfo& i : se.instances()) {
      if (i.tags().sop_instance_uid() == instance) return absl::OkStatus();
    }
  }
  return not_found;
}

absl::Status ShareWeb::SessionDicomWeb(const HttpRequest& request, const std::string& cookie,
                                       const ShareSession& session, HttpResponder& out) {
  if (request.method != "GET")
    return Respond(out, 405, "text/plain", "method not allowed\n", {{"Allow", "GET"}});
  absl::Status scope = InScope(request, session);
  v1::ShareLogEntry entry;
  entry.set_peer(request.peer_address);
  entry.set_action("read");
  entry.set_detail(request.query.empty() ? request.path
                                         : absl::StrCat(request.path, "?", request.query));
  if (!scope.ok()) {
    entry.set_result("refused");
    entry.set_reason(absl::IsNotFound(scope) ? "not in the share" : "lookup failed");
  }
  absl::StatusOr<bool> open = desk_->RecordRead(session.code_hash, entry);
  if (!open.ok()) return Respond(out, 503, "text/plain", "UNAVAILABLE\n");
  if (!*open) {
    sessions_->Close(cookie);
    return JsonError(out, 401, "the session has ended; open the share again");
  }
  if (!scope.ok()) {
    // Exactly what DicomWeb answers for a study that is not stored.
    return Respond(out, absl::IsNotFound(scope) ? 404 : 503, "text/plain",
                   absl::IsNotFound(scope) ? "NOT_FOUND\n" : "UNAVAILABLE\n");
  }
  HttpRequest as_session = request;
  as_session.peer = PeerIdentity{true, kShareSessionRole, session.share_id};
  as_session.headers.erase("cookie");
  return next_(as_session, out);
}

absl::Status ShareWeb::Download(const HttpRequest& request, const std::string& cookie,
                                const ShareSession& session, HttpResponder& out) {
  const std::string study = Form(request.query)["study"];
  v1::ShareLogEntry entry;
  entry.set_peer(request.peer_address);
  entry.set_action("download");
  entry.set_detail(absl::StrCat(request.path, "?", request.query));
  int refusal = 0;
  if (!session.download_allowed) {
    refusal = 403;
    entry.set_reason("downloads not allowed");
  } else if (session.study_uids.count(study) == 0) {
    refusal = 404;
    entry.set_reason("not in the share");
  }
  if (refusal != 0) entry.set_result("refused");
  absl::StatusOr<bool> open = desk_->RecordRead(session.code_hash, entry);
  if (!open.ok()) return Respond(out, 503, "text/plain", "UNAVAILABLE\n");
  if (!*open) {
    sessions_->Close(cookie);
    return JsonError(out, 401, "the session has ended; open the share again");
  }
  if (refusal == 403) return JsonError(out, 403, "this share does not allow downloads");
  if (refusal == 404) return Respond(out, 404, "text/plain", "NOT_FOUND\n");

  v1::GetStudyRequest get;
  get.set_study_uid(study);
  absl::StatusOr<v1::GetStudyResponse> found = core_->GetStudy(get);
  if (absl::IsNotFound(found.status())) return Respond(out, 404, "text/plain", "NOT_FOUND\n");
  if (!found.ok()) return Respond(out, 503, "text/plain", "UNAVAILABLE\n");
  const std::vector<media::PdiInstance> instances = media::PdiInstancesOf(*found);
  if (instances.empty()) return Respond(out, 404, "text/plain", "NOT_FOUND\n");

  const std::string caller = PeerIdentity{true, kShareSessionRole, session.share_id}.ToString();
  HttpHeaders headers = NoStore();
  headers.emplace_back("Content-Type", "application/zip");
  headers.emplace_back("Content-Disposition", "attachment; filename=\"study.zip\"");
  if (absl::Status s = out.Begin(200, headers); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<media::MediaSink>> sink =
      media::NewZipStreamSink([&](absl::string_view bytes) { return out.Write(bytes); });
  if (!sink.ok()) return sink.status();
  media::PdiOptions options;
  options.scratch_dir = ScratchDir(scratch_dir_);
  options.viewer_dir = viewer_dir_;
  absl::StatusOr<media::PdiSummary> written = media::WritePdi(
      instances,
      [&](size_t index, const media::WriteFn& write) {
        v1::GetInstanceRequest read;
        read.set_sop_instance_uid(instances[index].sop_instance_uid);
        return core_->Get(
            read,
            [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) {
              return data.empty() ? absl::OkStatus() : write(data);
            },
            caller);
      },
      **sink, options);
  MV_LOG(INFO) << "audit op=share-download service=frontend caller=" << caller
               << " peer=" << (request.peer_address.empty() ? "-" : request.peer_address)
               << " instances=" << instances.size() << (written.ok() ? "" : " aborted=1");
  // An error now closes the connection without the last chunk: the recipient sees a truncated
  // download, never a complete-looking wrong one.
  if (!written.ok()) return written.status();
  return out.End();
}

}  // namespace medvault::frontend::web
