// ShareBook over a real RocksDB with a fake clock: limits, locking, refusals and the log.
#include "metaserver/core/share_book.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "metaserver/testing/catalog_test_util.h"
#include "metaserver/testing/share_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::ShareRefOf;

constexpr int64_t kDay = 86'400'000'000;

class ShareBookTest : public testing::CatalogTestBase {
 protected:
  ShareBookTest() : book_(kv_.get(), writer_.get(), &clock_) {}

  v1::StoredShare NewShare(const std::string& code, uint32_t max_uses = 0) {
    return testing::StoredShareOf(code, "1.2.3", clock_.NowMicros() + kDay, max_uses);
  }

  AccessDecision Redeem(const std::string& code, bool pin_ok) {
    v1::ShareLogEntry entry;
    entry.set_peer("10.0.0.1:5555");
    absl::StatusOr<AccessDecision> d = book_.RecordAccess(Sha256(code), true, pin_ok, entry);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : AccessDecision();
  }

  AccessDecision Read(const std::string& code) {
    v1::ShareLogEntry entry;
    entry.set_detail("study");
    absl::StatusOr<AccessDecision> d = book_.RecordAccess(Sha256(code), false, false, entry);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : AccessDecision();
  }

  FakeClock clock_;
  ShareBook book_;
};

TEST_F(ShareBookTest, CreateThenGetByHashOrIdAndList) {
  absl::StatusOr<v1::StoredShare> made = book_.Create(NewShare("code-a"));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->info().state(), "active");
  EXPECT_EQ(made->info().share_id(), ToHex(Sha256("code-a").substr(0, 8)));
  v1::ShareRef by_id;
  by_id.set_share_id(made->info().share_id());
  absl::StatusOr<v1::StoredShare> got = book_.Get(by_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->code_hash(), Sha256("code-a"));
  EXPECT_EQ(book_.Create(NewShare("code-a")).status().code(), absl::StatusCode::kAlreadyExists);
  clock_.Advance(1);
  ASSERT_TRUE(book_.Create(NewShare("code-b")).ok());
  absl::StatusOr<std::vector<v1::ShareInfo>> all = book_.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].share_id(), ToHex(Sha256("code-b").substr(0, 8)));  // newest first
  EXPECT_EQ(book_.Get(ShareRefOf("nope")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ShareBookTest, RefusesMalformedShares) {
  v1::StoredShare no_study = NewShare("c");
  no_study.mutable_info()->clear_study_uids();
  EXPECT_EQ(book_.Create(no_study).status().code(), absl::StatusCode::kInvalidArgument);
  v1::StoredShare past = NewShare("c");
  past.mutable_info()->set_expires_at_micros(clock_.NowMicros());
  EXPECT_EQ(book_.Create(past).status().code(), absl::StatusCode::kInvalidArgument);
  v1::StoredShare used = NewShare("c");
  used.mutable_info()->set_uses(1);
  EXPECT_EQ(book_.Create(used).status().code(), absl::StatusCode::kInvalidArgument);
  v1::StoredShare no_pin = NewShare("c");
  no_pin.clear_pin_hash();
  EXPECT_EQ(book_.Create(no_pin).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ShareBookTest, FiveWrongPinsLockAndCountDown) {
  ASSERT_TRUE(book_.Create(NewShare("code")).ok());
  for (uint32_t i = 1; i < kMaxPinFailures; ++i) {
    AccessDecision d = Redeem("code", false);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.attempts_remaining, kMaxPinFailures - i);
    EXPECT_EQ(d.share.state(), "active");
  }
  AccessDecision last = Redeem("code", false);
  EXPECT_EQ(last.attempts_remaining, 0u);
  EXPECT_EQ(last.share.state(), "locked");
  // Now even the right PIN is refused, until an admin unlocks.
  EXPECT_FALSE(Redeem("code", true).allowed);
  ASSERT_TRUE(book_.Unlock(ShareRefOf("code"), "client/admin").ok());
  EXPECT_TRUE(Redeem("code", true).allowed);
}

TEST_F(ShareBookTest, MaxUsesEndRedemptionsButNotOpenSessions) {
  ASSERT_TRUE(book_.Create(NewShare("code", 1)).ok());
  EXPECT_TRUE(Redeem("code", true).allowed);
  AccessDecision again = Redeem("code", true);
  EXPECT_FALSE(again.allowed);
  EXPECT_EQ(again.share.state(), "used up");
  EXPECT_TRUE(Read("code").allowed);  // the session the one use opened goes on
}

TEST_F(ShareBookTest, ExpiryAndRevocationRefuseRedemptionsAndReads) {
  ASSERT_TRUE(book_.Create(NewShare("soon")).ok());
  ASSERT_TRUE(book_.Create(NewShare("revoked")).ok());
  EXPECT_TRUE(Redeem("soon", true).allowed);
  EXPECT_TRUE(Read("soon").allowed);
  ASSERT_TRUE(book_.Revoke(ShareRefOf("revoked"), "client/writer").ok());
  EXPECT_FALSE(Redeem("revoked", true).allowed);
  EXPECT_FALSE(Read("revoked").allowed);
  clock_.Advance(kDay);
  EXPECT_FALSE(Read("soon").allowed);
  AccessDecision expired = Redeem("soon", true);
  EXPECT_FALSE(expired.allowed);
  EXPECT_EQ(expired.share.state(), "expired");
}

TEST_F(ShareBookTest, LogKeepsEveryAccessWithItsPreciseReason) {
  ASSERT_TRUE(book_.Create(NewShare("code")).ok());
  Redeem("code", false);
  Redeem("code", true);
  Read("code");
  ASSERT_TRUE(book_.Revoke(ShareRefOf("code"), "client/writer").ok());
  Redeem("code", true);
  absl::StatusOr<std::vector<v1::ShareLogEntry>> log = book_.Log(ShareRefOf("code"));
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 5u);
  EXPECT_EQ((*log)[0].reason(), "wrong PIN");
  EXPECT_EQ((*log)[0].peer(), "10.0.0.1:5555");
  EXPECT_EQ((*log)[1].result(), "ok");
  EXPECT_EQ((*log)[2].action(), "read");
  EXPECT_EQ((*log)[2].detail(), "study");
  EXPECT_EQ((*log)[3].action(), "revoke");
  EXPECT_EQ((*log)[3].actor(), "client/writer");
  EXPECT_EQ((*log)[4].reason(), "revoked");
  EXPECT_EQ((*log)[4].at_micros(), clock_.NowMicros());
}

TEST_F(ShareBookTest, NothingIsWrittenWhenTheWriteFails) {
  ASSERT_TRUE(book_.Create(NewShare("code")).ok());
  writer_->set_fail(true);
  v1::ShareLogEntry entry;
  EXPECT_FALSE(book_.RecordAccess(Sha256("code"), true, false, entry).ok());
  writer_->set_fail(false);
  absl::StatusOr<v1::StoredShare> share = book_.Get(ShareRefOf("code"));
  ASSERT_TRUE(share.ok());
  EXPECT_EQ(share->info().failed_attempts(), 0u);
  EXPECT_EQ(book_.Log(ShareRefOf("code"))->size(), 0u);
}

}  // namespace
}  // namespace medvault::metaserver
