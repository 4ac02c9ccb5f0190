// CORS decisions (cors.h) and their one point of application, DicomWeb::Handle: off by default,
// preflights answered before authorisation, answers marked for allowed origins only.
#include "frontend/web/cors.h"

#include <gtest/gtest.h>

#include "frontend/testing/http_recorder.h"
#include "frontend/web/dicomweb.h"

namespace medvault::frontend::web {
namespace {

HttpRequest Request(const std::string& method, const std::string& origin,
                    const std::string& request_method = "") {
  HttpRequest r;
  r.method = method;
  r.path = "/dicomweb/studies";
  if (!origin.empty()) r.headers["origin"] = origin;
  if (!request_method.empty()) r.headers["access-control-request-method"] = request_method;
  r.peer = absl::UnauthenticatedError("none");
  return r;
}

CorsPolicy Policy(const std::string& origins) {
  absl::StatusOr<CorsPolicy> p = CorsPolicy::Parse(origins);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : CorsPolicy();
}

TEST(CorsPolicyTest, ParsesOriginsAndRefusesOthers) {
  EXPECT_FALSE(Policy("").enabled());
  EXPECT_TRUE(Policy("https://viewer.example, https://ohif.example:8443").enabled());
  EXPECT_TRUE(Policy("*").enabled());
  for (const char* bad : {"viewer.example", "https://viewer.example/path", "ftp://x", "https://"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(CorsPolicy::Parse(bad).status())) << bad;
  }
}

TEST(CorsPolicyTest, NothingWhenOff) {
  CorsPolicy off;
  EXPECT_TRUE(off.AnswerHeaders(Request("GET", "https://viewer.example")).empty());
  EXPECT_FALSE(off.IsPreflight(Request("OPTIONS", "https://viewer.example", "GET")));
}

TEST(CorsPolicyTest, ListedOriginsGetTheirOriginAndCredentials) {
  CorsPolicy p = Policy("https://viewer.example");
  HttpHeaders h = p.AnswerHeaders(Request("GET", "https://viewer.example"));
  RecordingResponder r;
  ASSERT_TRUE(HeaderAddingResponder(r, h).Begin(200, {{"Content-Type", "x/y"}}).ok());
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "https://viewer.example");
  EXPECT_EQ(r.Header("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(r.Header("Vary"), "Origin");
  EXPECT_NE(r.Header("Access-Control-Expose-Headers").find("Warning"), std::string::npos);
  EXPECT_EQ(r.Header("Content-Type"), "x/y");
  // Another origin, or none: nothing.
  EXPECT_TRUE(p.AnswerHeaders(Request("GET", "https://evil.example")).empty());
  EXPECT_TRUE(p.AnswerHeaders(Request("GET", "")).empty());
  // Any origin: "*" and no credentials.
  HttpHeaders any = Policy("*").AnswerHeaders(Request("GET", "https://x.example"));
  ASSERT_FALSE(any.empty());
  EXPECT_EQ(any[0], (std::pair<std::string, std::string>("Access-Control-Allow-Origin", "*")));
  for (const auto& [k, v] : any) EXPECT_NE(k, "Access-Control-Allow-Credentials");
}

TEST(CorsPolicyTest, PreflightAnsweredForAllowedOriginsOnly) {
  CorsPolicy p = Policy("https://viewer.example");
  EXPECT_FALSE(p.IsPreflight(Request("OPTIONS", "https://viewer.example")));
  EXPECT_FALSE(p.IsPreflight(Request("GET", "https://viewer.example", "GET")));
  ASSERT_TRUE(p.IsPreflight(Request("OPTIONS", "https://viewer.example", "GET")));
  RecordingResponder ok;
  ASSERT_TRUE(p.AnswerPreflight(Request("OPTIONS", "https://viewer.example", "GET"), ok).ok());
  EXPECT_EQ(ok.status, 204);
  EXPECT_NE(ok.Header("Access-Control-Allow-Methods").find("GET"), std::string::npos);
  EXPECT_NE(ok.Header("Access-Control-Allow-Headers").find("Accept"), std::string::npos);
  EXPECT_EQ(ok.Header("Access-Control-Max-Age"), "600");
  RecordingResponder refused;
  ASSERT_TRUE(p.AnswerPreflight(Request("OPTIONS", "https://evil.example", "GET"), refused).ok());
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.Header("Access-Control-Allow-Origin"), "");
}

// DicomWeb::Handle applies the policy to every /dicomweb/ answer; a preflight needs no
// authorisation (no core is touched: null here).
TEST(CorsPolicyTest, DicomWebHandleAppliesIt) {
  DicomWebOptions options;
  options.cors = Policy("https://viewer.example");
  DicomWeb web(nullptr, nullptr, options);
  RecordingResponder preflight;
  ASSERT_TRUE(web.Handle(Request("OPTIONS", "https://viewer.example", "GET"), preflight).ok());
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("Access-Control-Allow-Origin"), "https://viewer.example");
  HttpRequest unknown = Request("GET", "https://viewer.example");
  unknown.path = "/dicomweb/nothing";
  RecordingResponder answer;
  ASSERT_TRUE(web.Handle(unknown, answer).ok());
  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(answer.Header("Access-Control-Allow-Origin"), "https://viewer.example");
  // Without the policy: OPTIONS is an unsupported method and nothing is CORS-marked.
  DicomWeb plain(nullptr, nullptr);
  RecordingResponder no_cors;
  ASSERT_TRUE(plain.Handle(Request("OPTIONS", "https://viewer.example", "GET"), no_cors).ok());
  EXPECT_EQ(no_cors.status, 405);
  EXPECT_EQ(no_cors.Header("Access-Control-Allow-Origin"), "");
}

}  // namespace
}  // namespace medvault::frontend::web
