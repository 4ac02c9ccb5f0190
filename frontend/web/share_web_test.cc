// ShareWeb with a fake metaserver behind a real ShareDesk and ImageStoreCore, and a recording
// handler in place of DicomWeb: redemption, the cookie's attributes, CSRF and Origin checks,
// confinement to the share's studies, and revocation/expiry/timeouts ending a session.
#include "frontend/web/share_web.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "frontend/testing/core_fakes.h"
#include "frontend/testing/http_recorder.h"
#include "frontend/testing/share_fakes.h"

namespace medvault::frontend::web {
namespace {

constexpr int64_t kSecond = 1'000'000;

using Recorder = RecordingResponder;

// Two studies: 1.1 (shared; series 1.1.1 with instance 1.1.1.1) and 2.2 (not shared).
class TwoStudies : public FakeMeta {
 public:
  TwoStudies() : FakeMeta(&keys_) {}
  absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string& uid) override {
    if (uid != "1.1" && uid != "2.2") return absl::NotFoundError("no such study");
    v1::GetStudyMetaResponse r;
    r.mutable_study()->set_study_uid(uid);
    r.mutable_study()->set_patient_name("Doe^<b>Jane</b>");
    v1::SeriesInfo* series = r.add_series();
    series->set_series_uid(uid + ".1");
    series->add_instances()->mutable_tags()->set_sop_instance_uid(uid + ".1.1");
    return r;
  }

 private:
  FakeKeys keys_;
};

class ShareWebTest : public ::testing::Test {
 protected:
  ShareWebTest()
      : meta_(&clock_),
        desk_(&meta_, &studies_, &clock_, Fast()),
        core_(&keys_, &studies_, &chunks_, FrontendOptions(), &clock_),
        sessions_(&clock_, SessionOptions()),
        web_(&desk_, &sessions_, &core_, [this](const HttpRequest& r, HttpResponder& out) {
          forwarded_.push_back(r);
          return Respond(out, 200, "text/plain", "dicomweb\n");
        }) {
    v1::CreateShareRequest request;
    request.add_study_uids("1.1");
    request.set_expires_in_seconds(3600);
    share_ = *desk_.Create(request, "client/writer");
  }

  static ShareOptions Fast() {
    ShareOptions o;
    o.scrypt.log2_n = 10;
    return o;
  }

  Recorder Send(const std::string& method, const std::string& target, const std::string& body = "",
                std::map<std::string, std::string> headers = {}) {
    HttpRequest r;
    r.method = method;
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    r.headers = std::move(headers);
    r.headers["host"] = "archive.example:7605";
    if (!cookie_.empty()) r.headers["cookie"] = std::string(kShareCookie) + "=" + cookie_;
    r.peer = absl::UnauthenticatedError("no certificate");
    r.peer_address = "10.0.0.7:5000";
    Recorder out;
    EXPECT_TRUE(web_.Handle(r, out).ok());
    return out;
  }

  Recorder Redeem(const std::string& pin) {
    Recorder out = Send("POST", "/share/api/redeem", "code=" + share_.access_code + "&pin=" + pin);
    const std::string set = out.Header("Set-Cookie");
    if (out.status == 200)
      cookie_ = ShareWeb::CookieValue(set.substr(0, set.find(';')), kShareCookie);
    return out;
  }

  FakeClock clock_;
  FakeShareMeta meta_;
  TwoStudies studies_;
  FakeKeys keys_;
  FakeChunks chunks_;
  ShareDesk desk_;
  ImageStoreCore core_;
  ShareSessions sessions_;
  ShareWeb web_;
  CreatedShare share_;
  std::string cookie_;
  std::vector<HttpRequest> forwarded_;
};

TEST_F(ShareWebTest, RedeemSetsAStrictCookieAndTheSessionReadsOnlyItsStudies) {
  Recorder redeemed = Redeem(share_.pin);
  ASSERT_EQ(redeemed.status, 200) << redeemed.body;
  const std::string set = redeemed.Header("Set-Cookie");
  EXPECT_THAT(set, ::testing::HasSubstr("HttpOnly"));
  EXPECT_THAT(set, ::testing::HasSubstr("Secure"));
  EXPECT_THAT(set, ::testing::HasSubstr("SameSite=Strict"));
  EXPECT_EQ(redeemed.Header("Cache-Control"), "no-store");
  EXPECT_FALSE(cookie_.empty());

  Recorder info = Send("GET", "/share/api/session");
  ASSERT_EQ(info.status, 200);
  EXPECT_THAT(info.body, ::testing::HasSubstr("\"study_uid\":\"1.1\""));
  EXPECT_THAT(info.body, ::testing::Not(::testing::HasSubstr("2.2")));
  EXPECT_THAT(info.body, ::testing::Not(::testing::HasSubstr("<b>")));  // escaped for HTML too

  // In the share: forwarded with the session's identity, no cookie.
  EXPECT_EQ(Send("GET", "/dicomweb/studies/1.1").status, 200);
  EXPECT_EQ(Send("GET", "/dicomweb/studies/1.1/series/1.1.1/instances/1.1.1.1").status, 200);
  EXPECT_EQ(Send("GET",
                 "/dicomweb/wado?requestType=WADO&studyUID=1.1&seriesUID=1.1.1&objectUID="
                 "1.1.1.1")
                .status,
            200);
  ASSERT_EQ(forwarded_.size(), 3u);
  ASSERT_TRUE(forwarded_[0].peer.ok());
  EXPECT_EQ(forwarded_[0].peer->role, kShareSessionRole);
  EXPECT_EQ(forwarded_[0].peer->name, share_.info.share_id());
  EXPECT_EQ(forwarded_[0].Header("cookie"), "");

  // Outside it, guessed or real: the same 404 as a missing study, nothing forwarded.
  Recorder missing = Send("GET", "/dicomweb/studies/9.9");
  for (const std::string& target :
       {"/dicomweb/studies/2.2", "/dicomweb/studies/1.1/series/2.2.1",
        "/dicomweb/studies/1.1/series/1.1.1/instances/2.2.1.1",
        "/dicomweb/wado?requestType=WADO&studyUID=2.2&seriesUID=2.2.1&objectUID=2.2.1.1",
        "/dicomweb/studies", "/dicomweb/studies/1.1/series/2.2.1/instances/2.2.1.1"}) {
    Recorder out = Send("GET", target);
    EXPECT_EQ(out.status, 404) << target;
    EXPECT_EQ(out.body, missing.body) << target;
  }
  EXPECT_EQ(forwarded_.size(), 3u);
  // Each access is in the share's log, the refused ones with their reason.
  EXPECT_EQ(meta_.log.back().entry().reason(), "not in the share");
  EXPECT_EQ(meta_.log.back().entry().peer(), "10.0.0.7:5000");
}

TEST_F(ShareWebTest, RevocationExpiryAndTimeoutsEndTheSessionAtItsNextRequest) {
  ASSERT_EQ(Redeem(share_.pin).status, 200);
  ASSERT_TRUE(desk_.Revoke(share_.info.share_id(), "client/writer").ok());
  EXPECT_EQ(Send("GET", "/dicomweb/studies/1.1").status, 401);
  EXPECT_EQ(Send("GET", "/share/api/session").status, 401);  // the session is gone
  EXPECT_TRUE(forwarded_.empty());

  v1::CreateShareRequest request;
  request.add_study_uids("1.1");
  request.set_expires_in_seconds(600);
  share_ = *desk_.Create(request, "client/writer");
  ASSERT_EQ(Redeem(share_.pin).status, 200);
  EXPECT_EQ(Send("GET", "/dicomweb/studies/1.1").status, 200);
  clock_.Advance(600 * kSecond);
  EXPECT_EQ(Send("GET", "/dicomweb/studies/1.1").status, 401);

  share_ = *desk_.Create(request, "client/writer");
  ASSERT_EQ(Redeem(share_.pin).status, 200);
  clock_.Advance(SessionOptions().idle_seconds * kSecond);
  EXPECT_EQ(Send("GET", "/share/api/session").status, 401);

  // A session kept busy still ends at its absolute limit.
  request.clear_expires_in_seconds();  // the default: 30 days
  share_ = *desk_.Create(request, "client/writer");
  ASSERT_EQ(Redeem(share_.pin).status, 200);
  const int64_t step = SessionOptions().idle_seconds - 60;
  int64_t elapsed = 0;
  for (; elapsed + step < SessionOptions().absolute_seconds; elapsed += step) {
    ASSERT_EQ(Send("GET", "/share/api/session").status, 200) << elapsed;
    clock_.Advance(step * kSecond);
  }
  clock_.Advance((SessionOptions().absolute_seconds - elapsed) * kSecond);
  EXPECT_EQ(Send("GET", "/share/api/session").status, 401);
}

TEST_F(ShareWebTest, CrossSiteRequestsAreRefused) {
  Recorder foreign =
      Send("POST", "/share/api/redeem", "code=" + share_.access_code + "&pin=" + share_.pin,
           {{"origin", "https://evil.example"}});
  EXPECT_EQ(foreign.status, 403);
  EXPECT_TRUE(meta_.log.empty());  // not even counted as an attempt
  ASSERT_EQ(Redeem(share_.pin).status, 200);
  EXPECT_EQ(Send("POST", "/share/api/logout").status, 403);  // no CSRF token
  Recorder info = Send("GET", "/share/api/session");
  const std::string csrf = info.body.substr(info.body.find("\"csrf\":\"") + 8, 43);
  EXPECT_EQ(Send("POST", "/share/api/logout", "", {{"x-csrf-token", csrf}}).status, 200);
  EXPECT_EQ(Send("GET", "/share/api/session").status, 401);
}

TEST_F(ShareWebTest, WrongPinsSayHowManyAttemptsRemainThenLock) {
  const std::string wrong = share_.pin == "AAAAAA" ? "CCCCCC" : "AAAAAA";
  for (int left = 4; left >= 0; --left) {
    Recorder out = Redeem(wrong);
    EXPECT_EQ(out.status, 403);
    EXPECT_THAT(out.body, ::testing::HasSubstr(std::to_string(left) + " attempt"));
  }
  Recorder locked = Redeem(share_.pin);
  EXPECT_EQ(locked.status, 403);
  EXPECT_THAT(locked.body, ::testing::HasSubstr("do not open a share"));
  EXPECT_TRUE(cookie_.empty());
}

}  // namespace
}  // namespace medvault::frontend::web
