// ShareDesk with a fake metaserver and a fake clock: codes and PINs, identical refusals, the
// wrong-PIN countdown, rate limiting per address, that no code or PIN reaches an error, and that
// redemptions, revocations and unlocks reach the key service's audit.
#include "frontend/core/share_desk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "common/crypto.h"
#include "frontend/testing/core_fakes.h"
#include "frontend/testing/share_fakes.h"

namespace medvault::frontend {
namespace {

constexpr int64_t kSecond = 1'000'000;

class StudiesMeta : public FakeMeta {
 public:
  StudiesMeta() : FakeMeta(&keys_) {}
  absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string& uid) override {
    if (studies.count(uid) == 0) return absl::NotFoundError("no such study");
    return v1::GetStudyMetaResponse();
  }
  std::set<std::string> studies = {"1.2.3", "1.2.4"};

 private:
  FakeKeys keys_;
};

ShareOptions FastOptions() {
  ShareOptions options;
  options.scrypt.log2_n = 10;  // the real cost is tested by share_codes' own test below
  options.max_failures_per_address = 8;
  return options;
}

class ShareDeskTest : public ::testing::Test {
 protected:
  ShareDeskTest() : meta_(&clock_), desk_(&meta_, &studies_, &clock_, FastOptions()) {}

  CreatedShare MustCreate(uint32_t max_uses = 0) {
    v1::CreateShareRequest request;
    request.add_study_uids("1.2.3");
    request.set_max_uses(max_uses);
    request.set_label("Dr Who, knee");
    absl::StatusOr<CreatedShare> made = desk_.Create(request, "client/writer");
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : CreatedShare();
  }

  FakeClock clock_;
  FakeShareMeta meta_;
  StudiesMeta studies_;
  ShareDesk desk_;
};

TEST(ShareCodesTest, CodesAreLongRandomAndNormalised) {
  absl::StatusOr<std::string> a = NewAccessCode(), b = NewAccessCode();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  absl::StatusOr<std::string> norm = NormalizeAccessCode(*a);
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->size(), kCodeChars);
  std::string sloppy = absl::AsciiStrToLower(*norm);
  EXPECT_EQ(*NormalizeAccessCode(sloppy), *norm);
  EXPECT_FALSE(NormalizeAccessCode(norm->substr(1)).ok());
  absl::StatusOr<std::string> pin = NewPin();
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(pin->size(), kPinChars);
  EXPECT_TRUE(NormalizePin(absl::AsciiStrToLower(*pin)).ok());
  EXPECT_FALSE(NormalizePin("AAAAA0").ok());  // 0 is not a PIN character
}

TEST(ShareCodesTest, PinHashIsSaltedScrypt) {
  ScryptParams params;  // the production cost
  absl::StatusOr<std::string> h1 = HashPin("ACDEFG", "salt-1", params);
  absl::StatusOr<std::string> h2 = HashPin("ACDEFG", "salt-2", params);
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_NE(*h1, *h2);
  EXPECT_TRUE(*PinMatches("ACDEFG", "salt-1", params, *h1));
  EXPECT_FALSE(*PinMatches("ACDEFH", "salt-1", params, *h1));
  // RFC 7914 test vector 2 ("password", "NaCl", N=1024, r=8, p=16), first 32 bytes.
  absl::StatusOr<std::string> vector = HashPin("password", "NaCl", ScryptParams{10, 8, 16});
  ASSERT_TRUE(vector.ok());
  EXPECT_EQ(ToHex(*vector), "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162");
}

TEST_F(ShareDeskTest, CreateStoresOnlyHashesAndChecksStudies) {
  CreatedShare made = MustCreate();
  absl::StatusOr<v1::StoredShare> stored = meta_.GetShare(v1::ShareRef());
  EXPECT_FALSE(stored.ok());
  v1::ShareRef ref;
  ref.set_share_id(made.info.share_id());
  stored = meta_.GetShare(ref);
  ASSERT_TRUE(stored.ok());
  const std::string bytes = stored->SerializeAsString();
  EXPECT_FALSE(absl::StrContains(bytes, made.pin));
  EXPECT_FALSE(absl::StrContains(bytes, *NormalizeAccessCode(made.access_code)));
  EXPECT_EQ(stored->info().created_by(), "client/writer");
  EXPECT_EQ(stored->info().expires_at_micros(), clock_.NowMicros() + 30LL * 86400 * kSecond);

  v1::CreateShareRequest missing;
  missing.add_study_uids("9.9.9");
  absl::Status s = desk_.Create(missing, "client/writer").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(absl::StrContains(s.message(), "9.9.9"));
  v1::CreateShareRequest too_long;
  too_long.add_study_uids("1.2.3");
  too_long.set_expires_in_seconds(400LL * 86400);
  EXPECT_EQ(desk_.Create(too_long, "w").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ShareDeskTest, RightPinRedeemsAndShowFindsByCodeOrId) {
  CreatedShare made = MustCreate();
  absl::StatusOr<Redemption> r = desk_.Redeem(made.access_code, made.pin, "ipv4:10.1.1.1:4000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->share.study_uids(0), "1.2.3");
  EXPECT_EQ(meta_.log.back().entry().peer(), "ipv4:10.1.1.1:4000");
  EXPECT_TRUE(meta_.log.back().pin_ok());
  // Case and dashes do not matter.
  std::string sloppy = absl::AsciiStrToLower(made.access_code);
  EXPECT_TRUE(desk_.Redeem(sloppy, absl::AsciiStrToLower(made.pin), "10.1.1.1:1").ok());
  EXPECT_TRUE(desk_.Show(made.access_code).ok());
  EXPECT_TRUE(desk_.Show(made.info.share_id()).ok());
}

TEST_F(ShareDeskTest, WrongPinsCountDownThenEveryRefusalIsTheSame) {
  CreatedShare made = MustCreate();
  const std::string wrong = made.pin == "AAAAAA" ? "CCCCCC" : "AAAAAA";
  for (int left = 4; left >= 0; --left) {
    absl::Status s = desk_.Redeem(made.access_code, wrong, "10.0.0.1:1").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(std::to_string(left) + " attempt"));
  }
  // Locked: the right PIN, a wrong one, an unknown code, a revoked share: one answer.
  const absl::Status locked = desk_.Redeem(made.access_code, made.pin, "10.0.0.2:1").status();
  EXPECT_EQ(locked, ShareRefusal());
  EXPECT_EQ(desk_.Redeem(made.access_code, wrong, "10.0.0.2:1").status(), ShareRefusal());
  absl::StatusOr<std::string> other = NewAccessCode();
  EXPECT_EQ(desk_.Redeem(*other, made.pin, "10.0.0.2:1").status(), ShareRefusal());
  EXPECT_EQ(desk_.Redeem("not a code", made.pin, "10.0.0.2:1").status(), ShareRefusal());
  CreatedShare revoked = MustCreate();
  ASSERT_TRUE(desk_.Revoke(revoked.info.share_id(), "client/writer").ok());
  EXPECT_EQ(desk_.Redeem(revoked.access_code, revoked.pin, "10.0.0.3:1").status(), ShareRefusal());
  CreatedShare once = MustCreate(1);
  ASSERT_TRUE(desk_.Redeem(once.access_code, once.pin, "10.0.0.4:1").ok());
  EXPECT_EQ(desk_.Redeem(once.access_code, once.pin, "10.0.0.4:1").status(), ShareRefusal());
  clock_.Advance(31LL * 86400 * kSecond);
  EXPECT_EQ(desk_.Redeem(once.access_code, once.pin, "10.0.0.5:1").status(), ShareRefusal());
}

TEST_F(ShareDeskTest, FailuresAreRateLimitedPerAddress) {
  CreatedShare made = MustCreate();
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<std::string> guess = NewAccessCode();
    EXPECT_EQ(desk_.Redeem(*guess, "AAAAAA", "ipv4:10.9.9.9:" + std::to_string(i)).status(),
              ShareRefusal());
  }
  // The ninth try from that host is refused before anything is looked up, even the right one.
  const int gets = meta_.gets;
  EXPECT_EQ(desk_.Redeem(made.access_code, made.pin, "ipv4:10.9.9.9:99").status(),
            TooManyAttempts());
  EXPECT_EQ(meta_.gets, gets);
  // Another address is not affected; the window passes.
  EXPECT_TRUE(desk_.Redeem(made.access_code, made.pin, "ipv4:10.9.9.8:1").ok());
  clock_.Advance(15 * 60 * kSecond);
  EXPECT_TRUE(desk_.Redeem(made.access_code, made.pin, "ipv4:10.9.9.9:1").ok());
}

// Every redemption, revocation and unlock is written to the key service's audit (op=share) naming
// the share by its id, never by its code or PIN; a redemption whose record cannot be written
// opens nothing.
TEST_F(ShareDeskTest, RedemptionsRevocationsAndUnlocksAreAudited) {
  struct Event {
    std::string on_behalf_of, purpose, peer;
    absl::StatusCode result;
  };
  std::vector<Event> events;
  bool audit_down = false;
  ShareDesk desk(&meta_, &studies_, &clock_, FastOptions(),
                 [&](const std::string& on_behalf_of, const std::string& purpose,
                     const std::string& peer, absl::StatusCode result) {
                   if (audit_down) return absl::UnavailableError("key service down");
                   events.push_back({on_behalf_of, purpose, peer, result});
                   return absl::OkStatus();
                 });
  v1::CreateShareRequest request;
  request.add_study_uids("1.2.3");
  absl::StatusOr<CreatedShare> made = desk.Create(request, "client/writer");
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string id = made->info.share_id();
  const std::string wrong = made->pin == "AAAAAA" ? "CCCCCC" : "AAAAAA";
  for (int i = 0; i < 5; ++i) (void)desk.Redeem(made->access_code, wrong, "10.0.0.1:1");
  (void)desk.Redeem(made->access_code, made->pin, "10.0.0.1:2");
  ASSERT_TRUE(desk.Unlock(id, "client/admin").ok());
  ASSERT_TRUE(desk.Redeem(made->access_code, made->pin, "10.0.0.1:3").ok());
  (void)desk.Redeem("not a code", made->pin, "10.0.0.1:4");
  ASSERT_TRUE(desk.Revoke(id, "client/writer").ok());

  const std::string recipient = "share-session/" + id;
  std::vector<std::string> purposes;
  for (const Event& e : events) purposes.push_back(e.purpose);
  EXPECT_THAT(
      purposes,
      ::testing::ElementsAre(
          "ShareRedeem (wrong PIN, 4 attempts left)", "ShareRedeem (wrong PIN, 3 attempts left)",
          "ShareRedeem (wrong PIN, 2 attempts left)", "ShareRedeem (wrong PIN, 1 attempt left)",
          "ShareRedeem (wrong PIN, share locked)", "ShareRedeem (refused: locked)",
          "ShareUnlock share/" + id, "ShareRedeem", "ShareRedeem (refused: no such share)",
          "ShareRevoke share/" + id));
  ASSERT_EQ(events.size(), 10u);
  EXPECT_EQ(events[0].on_behalf_of, recipient);
  EXPECT_EQ(events[0].peer, "10.0.0.1:1");
  EXPECT_EQ(events[0].result, absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(events[6].on_behalf_of, "client/admin");
  EXPECT_EQ(events[7].on_behalf_of, recipient);
  EXPECT_EQ(events[7].result, absl::StatusCode::kOk);
  EXPECT_EQ(events[8].on_behalf_of, "share-session/-");
  EXPECT_EQ(events[9].on_behalf_of, "client/writer");
  const std::string bare = absl::StrReplaceAll(made->access_code, {{"-", ""}});
  for (const Event& e : events) {
    for (const std::string* field : {&e.on_behalf_of, &e.purpose, &e.peer}) {
      EXPECT_FALSE(absl::StrContains(*field, made->pin)) << *field;
      EXPECT_FALSE(absl::StrContains(*field, bare)) << *field;
      EXPECT_FALSE(absl::StrContains(*field, made->access_code)) << *field;
    }
  }
  // The key service cannot record the redemption: no session.
  absl::StatusOr<CreatedShare> second = desk.Create(request, "client/writer");
  ASSERT_TRUE(second.ok());
  audit_down = true;
  EXPECT_TRUE(
      absl::IsUnavailable(desk.Redeem(second->access_code, second->pin, "10.0.0.2:1").status()));
}

TEST(ShareDeskPeerTest, HostOfPeer) {
  EXPECT_EQ(ShareDesk::PeerHost("ipv4:10.1.2.3:443"), "10.1.2.3");
  EXPECT_EQ(ShareDesk::PeerHost("10.1.2.3:443"), "10.1.2.3");
  EXPECT_EQ(ShareDesk::PeerHost("ipv6:[::1]:443"), "::1");
}

}  // namespace
}  // namespace medvault::frontend
