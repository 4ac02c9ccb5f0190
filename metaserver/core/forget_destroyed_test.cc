// Restoring a backup after crypto-shredding: the objects whose keys a shred log lists leave the
// restored index entirely (no PHI of a deleted study survives), held studies included; the others
// stay; tombstones already in the backup drop their UIDs.
#include "metaserver/core/forget_destroyed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metaserver/core/catalog.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using ::testing::ElementsAre;
using testing::Manifest;
using testing::Tags;

class ForgetDestroyedTest : public CatalogTestBase {
 protected:
  void SetUp() override {
    for (int i = 0; i < 4; ++i) m_[i] = Manifest(100 * (i + 1));
    MustCommit(Tags("1", "1.1", "1.1.1"), m_[0]);
    MustCommit(Tags("2", "2.1", "2.1.1", "PAT2", "20240106", "MR"), m_[1]);
    MustCommit(Tags("2", "2.1", "2.1.2", "PAT2", "20240106", "MR"), m_[2]);
    MustCommit(Tags("3", "3.1", "3.1.1", "PAT3", "20240107", "US"), m_[3]);
  }
  v1::ObjectManifest m_[4];
};

TEST_F(ForgetDestroyedTest, DestroyedObjectsLeaveTheIndexWithTheirStudies) {
  // Study 3 was deleted before the backup but its key destruction was not confirmed yet.
  ASSERT_TRUE(catalog_->DeleteStudy("3", now_).ok());
  ASSERT_TRUE(catalog_->SetLegalHold("2", true, "legal", now_).ok());

  absl::StatusOr<ForgottenObjects> out = ForgetDestroyedObjects(
      kv_.get(), {m_[1].object_id(), m_[2].object_id(), m_[3].object_id(), std::string(16, 'z')},
      now_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->instances, 2u);
  EXPECT_EQ(out->tombstones, 3u);

  EXPECT_THAT(FindUids(v1::StudyQuery()), ElementsAre("1"));
  v1::StudyQuery by_patient;
  by_patient.set_patient_id("PAT2");
  EXPECT_TRUE(FindUids(by_patient).empty());
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetStudy("2").status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("2.1.1").status()));
  EXPECT_TRUE(catalog_->GetInstance("1.1.1").ok());
  // Every tombstone's key is confirmed destroyed (no UID kept): the GC may reclaim them all.
  absl::StatusOr<std::vector<TombstoneEntry>> reclaimable = catalog_->ListDestroyedTombstones(10);
  ASSERT_TRUE(reclaimable.ok()) << reclaimable.status();
  EXPECT_EQ(reclaimable->size(), 3u);
  // The study-level index keeps no entry naming study 2 or 3 (tombstone index entries included).
  size_t naming = 0;
  auto it = kv_->NewIterator(kIndexCf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    for (const char* phi : {"2.1", "3.1", "PAT2", "PAT3"}) {
      if (key.find(phi) != std::string::npos) ++naming;
    }
  }
  EXPECT_EQ(naming, 0u);
}

TEST_F(ForgetDestroyedTest, NothingDestroyedChangesNothing) {
  absl::StatusOr<ForgottenObjects> out = ForgetDestroyedObjects(kv_.get(), {}, now_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->instances, 0u);
  EXPECT_EQ(FindUids(v1::StudyQuery()).size(), 3u);
}

}  // namespace
}  // namespace medvault::metaserver
