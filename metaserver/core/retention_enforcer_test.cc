// Retention over a real RocksDB with a fake clock: a due rule deletes the study and destroys its
// keys; a legal hold blocks the task and DeleteStudy/DeleteInstance; after-last-share waits for
// the last share to end, and no share can be made of a study while it is being deleted; only the
// leader acts; find and GetStudy show the rule and the hold.
#include "metaserver/core/retention_enforcer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "metaserver/core/share_book.h"
#include "metaserver/testing/catalog_test_util.h"
#include "metaserver/testing/share_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::ShareRefOf;

constexpr int64_t kDay = 86'400'000'000;

class RecordingShredder : public KeyShredder {
 public:
  absl::Status DestroyKeys(const std::vector<std::string>& object_ids,
                           const std::string& on_behalf_of, const std::string& purpose) override {
    if (fail) return absl::UnavailableError("key service down");
    destroyed.insert(object_ids.begin(), object_ids.end());
    purposes.push_back(purpose);
    actors.push_back(on_behalf_of);
    return absl::OkStatus();
  }
  bool fail = false;
  std::set<std::string> destroyed;
  std::vector<std::string> purposes;
  std::vector<std::string> actors;
};

class RetentionTest : public testing::CatalogTestBase {
 protected:
  RetentionTest()
      : book_(kv_.get(), writer_.get(), &clock_, catalog_.get()),
        enforcer_(catalog_.get(), &keys_, &clock_, [this] { return leader_.load(); }) {}

  // Stores one instance of `study`; returns its object id.
  std::string Store(const std::string& study, const std::string& sop) {
    v1::ObjectManifest m = testing::Manifest();
    now_ = clock_.NowMicros();
    MustCommit(testing::Tags(study, study + ".1", sop), m);
    return m.object_id();
  }

  v1::RetentionRule Days(uint32_t days) {
    v1::RetentionRule rule;
    rule.set_days_after_ingest(days);
    return rule;
  }

  v1::RetentionRule AfterLastShare() {
    v1::RetentionRule rule;
    rule.set_after_last_share(true);
    return rule;
  }

  void Set(const std::string& study, const v1::RetentionRule& rule) {
    absl::StatusOr<RetentionAnswer> a =
        catalog_->SetRetention(study, rule, false, "client/admin", clock_.NowMicros());
    ASSERT_TRUE(a.ok()) << a.status();
  }

  void Hold(const std::string& study, bool hold) {
    absl::StatusOr<RetentionAnswer> a =
        catalog_->SetLegalHold(study, hold, "client/admin", clock_.NowMicros());
    ASSERT_TRUE(a.ok()) << a.status();
  }

  RetentionStats Pass() {
    absl::StatusOr<RetentionStats> s = enforcer_.RunOnce();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : RetentionStats();
  }

  bool Stored(const std::string& study) { return catalog_->GetStudy(study).ok(); }

  v1::StoredShare Share(const std::string& code, const std::string& study, int64_t expires_in) {
    return testing::StoredShareOf(code, study, clock_.NowMicros() + expires_in);
  }

  FakeClock clock_;
  RecordingShredder keys_;
  std::atomic<bool> leader_{true};
  ShareBook book_;
  RetentionEnforcer enforcer_;
};

TEST_F(RetentionTest, DueRuleDeletesTheStudyAndDestroysItsKeys) {
  const std::string object = Store("1.2.1", "1.2.1.1.1");
  const std::string other = Store("1.2.2", "1.2.2.1.1");
  Set("1.2.1", Days(30));

  clock_.Advance(29 * kDay);
  RetentionStats early = Pass();
  EXPECT_TRUE(early.led);
  EXPECT_EQ(early.due, 0u);
  EXPECT_TRUE(Stored("1.2.1"));

  clock_.Advance(kDay);
  RetentionStats due = Pass();
  EXPECT_EQ(due.due, 1u);
  EXPECT_EQ(due.deleted, 1u);
  EXPECT_FALSE(Stored("1.2.1"));
  EXPECT_TRUE(Stored("1.2.2"));
  EXPECT_EQ(keys_.destroyed, std::set<std::string>{object});
  ASSERT_EQ(keys_.purposes.size(), 1u);
  EXPECT_EQ(keys_.purposes[0], "Retention (30 days after ingest)");
  EXPECT_EQ(keys_.actors[0], "client/admin");
  // The tombstone's key is confirmed destroyed (GC reclaims the chunks) and the rule is gone.
  absl::StatusOr<std::vector<TombstoneEntry>> reclaimable = catalog_->ListDestroyedTombstones(10);
  ASSERT_TRUE(reclaimable.ok());
  ASSERT_EQ(reclaimable->size(), 1u);
  EXPECT_EQ((*reclaimable)[0].object_id, object);
  EXPECT_EQ(CountKeys(kRetentionCf), 0u);
  EXPECT_EQ(Pass().deleted, 0u);
  (void)other;
}

TEST_F(RetentionTest, AnInterruptedDeletionIsFinishedByTheNextPass) {
  const std::string object = Store("1.2.1", "1.2.1.1.1");
  Set("1.2.1", Days(1));
  clock_.Advance(kDay);
  keys_.fail = true;
  RetentionStats failed = Pass();
  EXPECT_EQ(failed.failed, 1u);
  EXPECT_FALSE(Stored("1.2.1"));  // already out of the index
  absl::StatusOr<StudyDetail> gone = catalog_->GetStudy("1.2.1");
  EXPECT_TRUE(absl::IsNotFound(gone.status()));
  // Being deleted, the rule cannot be changed or held.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      catalog_->SetLegalHold("1.2.1", true, "client/admin", clock_.NowMicros()).status()));
  keys_.fail = false;
  RetentionStats finished = Pass();
  EXPECT_EQ(finished.deleted, 1u);
  EXPECT_EQ(keys_.destroyed, std::set<std::string>{object});
  EXPECT_EQ(CountKeys(kRetentionCf), 0u);
}

TEST_F(RetentionTest, HoldBlocksTheTaskAndExplicitDeletes) {
  Store("1.2.1", "1.2.1.1.1");
  Store("1.2.1", "1.2.1.1.2");
  Set("1.2.1", Days(1));
  Hold("1.2.1", true);
  clock_.Advance(2 * kDay);
  RetentionStats held = Pass();
  EXPECT_EQ(held.held, 1u);
  EXPECT_EQ(held.due, 1u);
  EXPECT_EQ(held.blocked_by_hold, 1u);
  EXPECT_EQ(held.deleted, 0u);
  EXPECT_TRUE(Stored("1.2.1"));
  EXPECT_TRUE(keys_.destroyed.empty());
  absl::StatusOr<DeleteResult> study = catalog_->DeleteStudy("1.2.1", clock_.NowMicros());
  EXPECT_TRUE(absl::IsFailedPrecondition(study.status())) << study.status();
  absl::StatusOr<DeleteResult> one = catalog_->DeleteInstance("1.2.1.1.1", clock_.NowMicros());
  EXPECT_TRUE(absl::IsFailedPrecondition(one.status())) << one.status();
  // find and GetStudy show the rule and the hold.
  absl::StatusOr<StudyDetail> detail = catalog_->GetStudy("1.2.1");
  ASSERT_TRUE(detail.ok()) << detail.status();
  EXPECT_EQ(detail->study.instance_count(), 2u);
  const v1::RetentionInfo& shown = detail->study.retention();
  EXPECT_TRUE(shown.hold());
  EXPECT_EQ(shown.hold_set_by(), "client/admin");
  EXPECT_EQ(shown.rule().days_after_ingest(), 1u);
  EXPECT_EQ(shown.state(), "held");
  EXPECT_GT(shown.due_at_micros(), 0);
  absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(v1::StudyQuery());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->studies_size(), 1);
  EXPECT_TRUE(page->studies(0).retention().hold());

  // Released, the next pass deletes it.
  Hold("1.2.1", false);
  EXPECT_EQ(Pass().deleted, 1u);
  EXPECT_FALSE(Stored("1.2.1"));
  EXPECT_EQ(keys_.destroyed.size(), 2u);
}

TEST_F(RetentionTest, AHoldAloneAlsoBlocksDeleteStudy) {
  Store("1.2.1", "1.2.1.1.1");
  Hold("1.2.1", true);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(catalog_->DeleteStudy("1.2.1", clock_.NowMicros()).status()));
  Hold("1.2.1", false);
  EXPECT_EQ(CountKeys(kRetentionCf), 0u);  // nothing left to keep
  EXPECT_TRUE(catalog_->DeleteStudy("1.2.1", clock_.NowMicros()).ok());
}

TEST_F(RetentionTest, AfterLastShareWaitsForEveryShareToEnd) {
  const std::string object = Store("1.2.1", "1.2.1.1.1");
  Set("1.2.1", AfterLastShare());
  // Never shared: kept.
  clock_.Advance(400 * kDay);
  EXPECT_EQ(Pass().due, 0u);
  ASSERT_TRUE(book_.Create(Share("code-a", "1.2.1", 7 * kDay)).ok());
  ASSERT_TRUE(book_.Create(Share("code-b", "1.2.1", 30 * kDay)).ok());
  EXPECT_EQ(Pass().due, 0u);
  // One share revoked, the other still open: kept.
  ASSERT_TRUE(book_.Revoke(ShareRefOf("code-a"), "client/client").ok());
  EXPECT_EQ(Pass().due, 0u);
  clock_.Advance(29 * kDay);
  EXPECT_EQ(Pass().due, 0u);
  EXPECT_TRUE(Stored("1.2.1"));
  // The last one expires: deleted.
  clock_.Advance(kDay);
  RetentionStats ended = Pass();
  EXPECT_EQ(ended.deleted, 1u);
  EXPECT_FALSE(Stored("1.2.1"));
  EXPECT_EQ(keys_.destroyed, std::set<std::string>{object});
  EXPECT_EQ(keys_.purposes.back(), "Retention (last share ended)");
}

// A share made while its study's "after last share" deletion runs: the deletion checks the shares
// and writes under the catalog's lock, and a new share checks the study under the same lock, so the
// new share is refused (the study is being deleted, or gone) instead of outliving its study.
TEST_F(RetentionTest, NoShareIsMadeOfAStudyBeingDeleted) {
  Store("1.2.1", "1.2.1.1.1");
  Set("1.2.1", AfterLastShare());
  ASSERT_TRUE(book_.Create(Share("code-a", "1.2.1", 7 * kDay)).ok());
  clock_.Advance(7 * kDay);
  // The share races the deletion: it is started from inside the deletion's replicated write.
  std::atomic<bool> fired{false};
  std::thread racer;
  absl::Status raced = absl::UnknownError("not run");
  writer_->set_before_write([&] {
    if (fired.exchange(true)) return;
    racer = std::thread([&] { raced = book_.Create(Share("code-b", "1.2.1", 7 * kDay)).status(); });
  });
  EXPECT_EQ(Pass().deleted, 1u);
  ASSERT_TRUE(fired);
  racer.join();
  writer_->set_before_write(nullptr);
  EXPECT_FALSE(Stored("1.2.1"));
  EXPECT_TRUE(absl::IsNotFound(raced) || absl::IsFailedPrecondition(raced)) << raced;
  EXPECT_TRUE(absl::IsNotFound(book_.Get(ShareRefOf("code-b")).status()));

  // A deletion stopped halfway (key service down) keeps refusing new shares until it is done.
  Store("1.2.2", "1.2.2.1.1");
  Set("1.2.2", AfterLastShare());
  ASSERT_TRUE(book_.Create(Share("code-c", "1.2.2", 1 * kDay)).ok());
  clock_.Advance(kDay);
  keys_.fail = true;
  EXPECT_EQ(Pass().failed, 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition(book_.Create(Share("code-d", "1.2.2", kDay)).status()));
  // And a study that is not stored cannot be shared at all.
  EXPECT_TRUE(absl::IsNotFound(book_.Create(Share("code-e", "1.2.9", kDay)).status()));
}

TEST_F(RetentionTest, OnlyTheLeaderDeletes) {
  Store("1.2.1", "1.2.1.1.1");
  Set("1.2.1", Days(1));
  clock_.Advance(2 * kDay);
  leader_ = false;
  RetentionStats follower = Pass();
  EXPECT_FALSE(follower.led);
  EXPECT_TRUE(Stored("1.2.1"));
  EXPECT_TRUE(keys_.destroyed.empty());
  leader_ = true;
  EXPECT_EQ(Pass().deleted, 1u);
}

TEST_F(RetentionTest, RulesAreValidatedAndMayPrecedeTheStudy) {
  v1::RetentionRule both = Days(3);
  both.set_after_last_share(true);
  EXPECT_TRUE(
      absl::IsInvalidArgument(catalog_->SetRetention("1.2.9", both, false, "a", now_).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      catalog_->SetRetention("1.2.9", v1::RetentionRule(), false, "a", now_).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      catalog_->SetRetention("1.2.9", Days(kMaxRetentionDays + 1), false, "a", now_).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      catalog_->SetRetention("not a uid", Days(3), false, "a", now_).status()));
  absl::StatusOr<RetentionAnswer> early =
      catalog_->SetRetention("1.2.9", Days(3), false, "a", now_);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->study_stored);
  clock_.Advance(10 * kDay);
  EXPECT_EQ(Pass().due, 0u);    // not stored: nothing to delete
  Store("1.2.9", "1.2.9.1.1");  // ingested now: due three days from now
  EXPECT_EQ(Pass().due, 0u);
  clock_.Advance(3 * kDay);
  EXPECT_EQ(Pass().deleted, 1u);
}

}  // namespace
}  // namespace medvault::metaserver
