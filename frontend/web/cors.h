// Cross-origin access (CORS, the Fetch standard) to the DICOMweb door, for browser viewers served
// from another origin (OHIF on https://viewer.example reading https://archive:7605/dicomweb/).
// Off by default: with no allowed origin the door sends no CORS header at all and answers OPTIONS
// like any other unsupported method (405). With origins configured:
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) under /dicomweb/ from an
//     allowed origin is answered 204 with Access-Control-Allow-Origin/-Methods/-Headers/-Max-Age,
//     before any authorisation (browsers send preflights without credentials); from another
//     origin 403 without CORS headers;
//   - every other answer to an allowed Origin carries Access-Control-Allow-Origin, Vary: Origin and
//     Access-Control-Expose-Headers. A listed origin is also sent
//     Access-Control-Allow-Credentials: true (the door needs the browser's client certificate);
//     "*" allows every origin without credentials.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/web/https_server.h"

namespace medvault::frontend::web {

class CorsPolicy {
 public:
  CorsPolicy() = default;
  // A comma-separated list of origins ("https://viewer.example,https://ohif.example:8443") or
  // "*"; empty: CORS off. INVALID_ARGUMENT for an entry that is no origin (scheme://host[:port],
  // no path).
  static absl::StatusOr<CorsPolicy> Parse(absl::string_view origins);

  bool enabled() const { return any_ || !origins_.empty(); }
  // True when `request` is a CORS preflight (OPTIONS with Origin and
  // Access-Control-Request-Method) and CORS is enabled.
  bool IsPreflight(const HttpRequest& request) const;
  // The answer to a preflight: 204 with the allow headers for an allowed origin, 403 otherwise.
  absl::Status AnswerPreflight(const HttpRequest& request, HttpResponder& out) const;
  // The headers to add to an answer to `request`: none when CORS is off, the request has no
  // Origin, or its origin is not allowed.
  HttpHeaders AnswerHeaders(const HttpRequest& request) const;

 private:
  bool Allowed(const std::string& origin) const;

  bool any_ = false;
  std::vector<std::string> origins_;  // lower case, no trailing '/'
};

// Adds `headers` to the status line that `out` begins with; passes everything else through.
class HeaderAddingResponder : public HttpResponder {
 public:
  HeaderAddingResponder(HttpResponder& out, HttpHeaders headers)
      : out_(out), headers_(std::move(headers)) {}
  absl::Status Begin(int status, const HttpHeaders& headers) override;
  absl::Status Write(absl::string_view data) override { return out_.Write(data); }
  absl::Status End() override { return out_.End(); }
  bool begun() const override { return out_.begun(); }

 private:
  HttpResponder& out_;
  const HttpHeaders headers_;
};

}  // namespace medvault::frontend::web
