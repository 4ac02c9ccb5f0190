// Unit tests of a put's end (put_commit.h) against the in-memory fakes: the key of a put lives
// exactly when its manifest may be in the index.
#include "frontend/core/put_commit.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "frontend/testing/core_fakes.h"

namespace medvault::frontend {
namespace {

constexpr char kUid[] = "1.2.826.0.1.3680043.2.1143.88.1";

class PutCommitterTest : public ::testing::Test {
 protected:
  PutCommitterTest() : meta_(&keys_), committer_(&keys_, &meta_, &stats_) {}

  // A fresh key from the fake key service, as a put takes it.
  DataKeyMaterial NewKey() {
    absl::StatusOr<std::vector<DataKeyMaterial>> keys = keys_.GenerateDataKeys(1, KeyAudit{});
    EXPECT_TRUE(keys.ok());
    return std::move(keys->front());
  }
  absl::StatusOr<v1::PutInstanceResponse> Commit(const DataKeyMaterial& key,
                                                 const std::string& sha256) {
    v1::InstanceTags tags;
    tags.set_sop_instance_uid(kUid);
    tags.set_study_uid("1.2.826.0.1.3680043.2.1143.88.2");
    v1::ObjectManifest manifest;
    manifest.set_object_id(key.object_id);
    manifest.set_sha256(sha256);
    return committer_.Commit(tags, manifest, key, sha256, v1::PutInstanceResponse());
  }
  bool Destroyed(const DataKeyMaterial& key) const {
    return keys_.destroyed.count(key.object_id) > 0;
  }

  FakeKeys keys_;
  FakeMeta meta_;
  CoreStats stats_;
  PutCommitter committer_;
};

TEST_F(PutCommitterTest, ACommittedPutKeepsItsKey) {
  const DataKeyMaterial key = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(key, "sha-a");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->already_stored());
  EXPECT_FALSE(Destroyed(key));
  EXPECT_EQ(meta_.commits, 1);
}

TEST_F(PutCommitterTest, ADefiniteRejectionDestroysTheKey) {
  meta_.commit_error = absl::InvalidArgumentError("bad manifest");
  meta_.apply_commit = false;
  const DataKeyMaterial key = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(key, "sha-a");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Destroyed(key));
  EXPECT_EQ(stats_.abandoned_puts.load(), 1u);
}

TEST_F(PutCommitterTest, AnUnknownOutcomeThatLandedIsOursAndKeepsTheKey) {
  meta_.commit_error = absl::DeadlineExceededError("reply lost");
  meta_.apply_commit = true;  // applied, but the answer never came
  const DataKeyMaterial key = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(key, "sha-a");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(Destroyed(key));
}

TEST_F(PutCommitterTest, AnUnknownOutcomeThatCannotBeResolvedKeepsTheKeyAndSaysRetry) {
  meta_.commit_error = absl::UnavailableError("leader lost");
  meta_.apply_commit = false;
  const DataKeyMaterial key = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(key, "sha-a");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(done.status().message(), "outcome unknown"));
  EXPECT_FALSE(Destroyed(key));  // the commit may yet have landed: never destroy then
  EXPECT_EQ(stats_.uncertain_commits.load(), 1u);
}

TEST_F(PutCommitterTest, AnIdenticalPutThatWonTheRaceMakesOursAlreadyStored) {
  const DataKeyMaterial first = NewKey();
  ASSERT_TRUE(Commit(first, "sha-a").ok());
  const DataKeyMaterial second = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(second, "sha-a");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->already_stored());
  EXPECT_TRUE(Destroyed(second));
  EXPECT_FALSE(Destroyed(first));
}

TEST_F(PutCommitterTest, OtherContentUnderTheSameUidIsRefusedAndItsKeyDestroyed) {
  const DataKeyMaterial first = NewKey();
  ASSERT_TRUE(Commit(first, "sha-a").ok());
  const DataKeyMaterial second = NewKey();
  absl::StatusOr<v1::PutInstanceResponse> done = Commit(second, "sha-b");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Destroyed(second));
  EXPECT_FALSE(Destroyed(first));
}

}  // namespace
}  // namespace medvault::frontend
