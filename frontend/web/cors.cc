#include "frontend/web/cors.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medvault::frontend::web {
namespace {

constexpr char kAllowMethods[] = "GET, POST, OPTIONS";
constexpr char kAllowHeaders[] = "Accept, Content-Type, Authorization";
constexpr char kExposeHeaders[] = "Content-Type, Content-Length, Content-Location, Warning";
constexpr char kMaxAgeSeconds[] = "600";

// "https://host[:port]" with nothing after the authority.
bool IsOrigin(absl::string_view s) {
  absl::string_view rest = s;
  if (!absl::ConsumePrefix(&rest, "https://") && !absl::ConsumePrefix(&rest, "http://")) {
    return false;
  }
  return !rest.empty() && rest.find_first_of("/?#@ \t\"\\,") == absl::string_view::npos;
}

std::string Normalize(absl::string_view origin) {
  return absl::AsciiStrToLower(absl::StripSuffix(absl::StripAsciiWhitespace(origin), "/"));
}

}  // namespace

absl::StatusOr<CorsPolicy> CorsPolicy::Parse(absl::string_view origins) {
  CorsPolicy policy;
  for (absl::string_view entry : absl::StrSplit(origins, ',', absl::SkipWhitespace())) {
    const std::string origin = Normalize(entry);
    if (origin == "*") {
      policy.any_ = true;
    } else if (IsOrigin(origin)) {
      policy.origins_.push_back(origin);
    } else {
      return absl::InvalidArgumentError(
          "--http_cors_origins: each entry must be scheme://host[:port] or *");
    }
  }
  return policy;
}

bool CorsPolicy::Allowed(const std::string& origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  return std::find(origins_.begin(), origins_.end(), Normalize(origin)) != origins_.end();
}

bool CorsPolicy::IsPreflight(const HttpRequest& request) const {
  return enabled() && request.method == "OPTIONS" && !request.Header("origin").empty() &&
         !request.Header("access-control-request-method").empty();
}

HttpHeaders CorsPolicy::AnswerHeaders(const HttpRequest& request) const {
  const std::string origin = request.Header("origin");
  if (!enabled() || !Allowed(origin)) return {};
  const bool listed = !origins_.empty() && std::find(origins_.begin(), origins_.end(),
                                                     Normalize(origin)) != origins_.end();
  HttpHeaders h;
  if (listed) {
    h.emplace_back("Access-Control-Allow-Origin", origin);
    h.emplace_back("Access-Control-Allow-Credentials", "true");
  } else {
    h.emplace_back("Access-Control-Allow-Origin", "*");
  }
  h.emplace_back("Vary", "Origin");
  h.emplace_back("Access-Control-Expose-Headers", kExposeHeaders);
  return h;
}

absl::Status CorsPolicy::AnswerPreflight(const HttpRequest& request, HttpResponder& out) const {
  HttpHeaders h = AnswerHeaders(request);
  if (h.empty()) {
    return Respond(out, 403, "text/plain", "origin not allowed\n", {{"Vary", "Origin"}});
  }
  h.emplace_back("Access-Control-Allow-Methods", kAllowMethods);
  h.emplace_back("Access-Control-Allow-Headers", kAllowHeaders);
  h.emplace_back("Access-Control-Max-Age", kMaxAgeSeconds);
  if (absl::Status s = out.Begin(204, h); !s.ok()) return s;
  return out.End();
}

absl::Status HeaderAddingResponder::Begin(int status, const HttpHeaders& headers) {
  if (headers_.empty()) return out_.Begin(status, headers);
  HttpHeaders all = headers;
  all.insert(all.end(), headers_.begin(), headers_.end());
  return out_.Begin(status, all);
}

}  // namespace medvault::frontend::web
