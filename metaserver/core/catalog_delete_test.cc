// Catalog deletions: tombstones, retries that finish the job, atomicity, key-destruction
// confirmation and tombstone removal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "metaserver/core/catalog.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Manifest;
using testing::Tags;
using ::testing::UnorderedElementsAre;

class CatalogDeleteTest : public CatalogTestBase {
 protected:
  // Study "1" (PAT1, CT + MR series, 3 instances) and study "2" (PAT1, CT, 1 instance).
  void SetUp() override {
    m_[0] = Manifest(100);
    m_[1] = Manifest(200);
    m_[2] = Manifest(300);
    m_[3] = Manifest(400);
    MustCommit(Tags("1", "1.1", "1.1.1"), m_[0]);
    MustCommit(Tags("1", "1.1", "1.1.2"), m_[1]);
    MustCommit(Tags("1", "1.2", "1.2.1", "PAT1", "20240105", "MR"), m_[2]);
    MustCommit(Tags("2", "2.1", "2.1.1", "PAT1", "20240106", "CT"), m_[3]);
  }

  std::vector<std::string> AllStudies() {
    v1::StudyQuery q;
    return FindUids(q);
  }

  v1::ObjectManifest m_[4];
};

TEST_F(CatalogDeleteTest, DeleteStudyRemovesEverythingAndReturnsObjectIds) {
  absl::StatusOr<DeleteResult> r = catalog_->DeleteStudy("1", now_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instances_deleted, 3u);
  EXPECT_THAT(r->object_ids,
              UnorderedElementsAre(m_[0].object_id(), m_[1].object_id(), m_[2].object_id()));

  for (const char* sop : {"1.1.1", "1.1.2", "1.2.1"}) {
    EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance(sop).status()));
  }
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetStudy("1").status()));
  EXPECT_THAT(AllStudies(), ElementsAre("2"));
  v1::StudyQuery q;
  q.set_modality("MR");
  EXPECT_THAT(FindUids(q), IsEmpty());
  q.set_modality("CT");
  EXPECT_THAT(FindUids(q), ElementsAre("2"));
  q.Clear();
  q.set_patient_id("PAT1");
  EXPECT_THAT(FindUids(q), ElementsAre("2"));
  // Chunk references stay until the chunks are reclaimed.
  EXPECT_TRUE(*catalog_->IsChunkReferenced(m_[0].chunks(0).chunk_id()));
  EXPECT_EQ(*catalog_->CountTombstones(), 3u);
  EXPECT_EQ(CountKeys(kManifestsCf), 1u);
  EXPECT_EQ(CountKeys(kSeriesCf), 1u);
}

TEST_F(CatalogDeleteTest, RetriedDeleteReturnsUnconfirmedIdsUntilConfirmed) {
  ASSERT_TRUE(catalog_->DeleteStudy("1", now_).ok());
  // The caller crashed before destroying the keys: the retry hands them out again.
  absl::StatusOr<DeleteResult> retry = catalog_->DeleteStudy("1", now_);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->instances_deleted, 0u);
  EXPECT_THAT(retry->object_ids,
              UnorderedElementsAre(m_[0].object_id(), m_[1].object_id(), m_[2].object_id()));

  // Partly confirmed: only the rest comes back.
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({m_[0].object_id()}).ok());
  retry = catalog_->DeleteStudy("1", now_);
  ASSERT_TRUE(retry.ok());
  EXPECT_THAT(retry->object_ids, UnorderedElementsAre(m_[1].object_id(), m_[2].object_id()));

  ASSERT_TRUE(
      catalog_->ConfirmKeysDestroyed({m_[1].object_id(), m_[2].object_id(), "unknown-id-000000"})
          .ok());
  EXPECT_TRUE(absl::IsNotFound(catalog_->DeleteStudy("1", now_).status()));
  absl::StatusOr<std::vector<TombstoneEntry>> destroyed = catalog_->ListDestroyedTombstones(100);
  ASSERT_TRUE(destroyed.ok());
  ASSERT_EQ(destroyed->size(), 3u);
  for (const TombstoneEntry& t : *destroyed) {
    EXPECT_TRUE(t.tombstone.keys_destroyed());
    EXPECT_TRUE(t.tombstone.study_uid().empty());  // PHI dropped once no longer needed
    EXPECT_EQ(t.tombstone.manifest().object_id(), t.object_id);
  }

  for (const TombstoneEntry& t : *destroyed)
    ASSERT_TRUE(catalog_->RemoveTombstone(t.object_id).ok());
  EXPECT_EQ(*catalog_->CountTombstones(), 0u);
  EXPECT_FALSE(*catalog_->IsChunkReferenced(m_[0].chunks(0).chunk_id()));
  EXPECT_TRUE(*catalog_->IsChunkReferenced(m_[3].chunks(0).chunk_id()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->DeleteStudy("1", now_).status()));
  EXPECT_TRUE(catalog_->RemoveTombstone(m_[0].object_id()).ok());  // already gone: fine
  EXPECT_TRUE(absl::IsNotFound(catalog_->DeleteStudy("9.9.9.9", now_).status()));
}

TEST_F(CatalogDeleteTest, TombstoneIsNotRemovedBeforeKeysAreDestroyed) {
  ASSERT_TRUE(catalog_->DeleteInstance("2.1.1", now_).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(catalog_->RemoveTombstone(m_[3].object_id())));
  EXPECT_THAT(*catalog_->ListDestroyedTombstones(100), IsEmpty());
  EXPECT_TRUE(*catalog_->IsChunkReferenced(m_[3].chunks(0).chunk_id()));
}

TEST_F(CatalogDeleteTest, DeleteInstanceUpdatesSeriesAndStudy) {
  absl::StatusOr<DeleteResult> r = catalog_->DeleteInstance("1.2.1", now_);  // the only MR instance
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instances_deleted, 1u);
  EXPECT_THAT(r->object_ids, ElementsAre(m_[2].object_id()));
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.instance_count(), 2u);
  EXPECT_EQ(study->study.series_count(), 1u);
  EXPECT_EQ(study->study.total_bytes(), 300u);
  EXPECT_THAT(study->study.modalities(), ElementsAre("CT"));
  ASSERT_EQ(study->series.size(), 1u);
  v1::StudyQuery q;
  q.set_modality("MR");
  EXPECT_THAT(FindUids(q), IsEmpty());

  r = catalog_->DeleteInstance("1.1.1", now_);
  ASSERT_TRUE(r.ok());
  study = catalog_->GetStudy("1");
  EXPECT_EQ(study->series[0].instance_count(), 1u);
  EXPECT_EQ(study->series[0].total_bytes(), 200u);

  // Retry of an instance delete returns its unconfirmed tombstone.
  r = catalog_->DeleteInstance("1.1.1", now_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instances_deleted, 0u);
  EXPECT_THAT(r->object_ids, ElementsAre(m_[0].object_id()));

  // The last instance takes the study with it.
  ASSERT_TRUE(catalog_->DeleteInstance("1.1.2", now_).ok());
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetStudy("1").status()));
  EXPECT_THAT(AllStudies(), ElementsAre("2"));
  // A study delete afterwards still finishes the instance deletions' key destruction.
  r = catalog_->DeleteStudy("1", now_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->instances_deleted, 0u);
  EXPECT_THAT(r->object_ids,
              UnorderedElementsAre(m_[0].object_id(), m_[1].object_id(), m_[2].object_id()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->DeleteInstance("9.9.9", now_).status()));
}

TEST_F(CatalogDeleteTest, SummaryListsDocumentsUntilTheyAreDeleted) {
  // Two documents (tags with a media type) beside study 2's image.
  v1::InstanceTags pdf = Tags("2", "2.9", "2.9.1", "PAT1", "20240106", "DOC");
  pdf.set_mime_type("application/pdf");
  v1::InstanceTags text = Tags("2", "2.9", "2.9.2", "PAT1", "20240106", "DOC");
  text.set_mime_type("text/plain");
  MustCommit(pdf, Manifest(50));
  MustCommit(text, Manifest(60));
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("2");
  ASSERT_TRUE(study.ok());
  ASSERT_EQ(study->study.documents_size(), 2);
  EXPECT_EQ(study->study.documents(0).sop_instance_uid(), "2.9.1");
  EXPECT_EQ(study->study.documents(0).mime_type(), "application/pdf");
  EXPECT_EQ(study->study.documents(0).size(), 50u);
  EXPECT_EQ(study->study.documents(1).mime_type(), "text/plain");
  // The media type is in the instance's tags as well, and the image lists no document.
  EXPECT_EQ(catalog_->GetInstance("2.9.2")->info.tags().mime_type(), "text/plain");
  EXPECT_TRUE(catalog_->GetInstance("2.1.1")->info.tags().mime_type().empty());
  v1::StudyQuery q;
  q.set_patient_id("PAT1");
  absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(q);
  ASSERT_TRUE(page.ok());
  for (const v1::StudySummary& s : page->studies()) {
    EXPECT_EQ(s.documents_size(), s.study_uid() == "2" ? 2 : 0) << s.study_uid();
  }

  ASSERT_TRUE(catalog_->DeleteInstance("2.9.1", now_).ok());
  study = catalog_->GetStudy("2");
  ASSERT_TRUE(study.ok());
  ASSERT_EQ(study->study.documents_size(), 1);
  EXPECT_EQ(study->study.documents(0).sop_instance_uid(), "2.9.2");
  ASSERT_TRUE(catalog_->DeleteInstance("2.1.1", now_).ok());  // an image: no document removed
  EXPECT_EQ(catalog_->GetStudy("2")->study.documents_size(), 1);
}

TEST_F(CatalogDeleteTest, InstanceCanBeStoredAgainAfterDelete) {
  ASSERT_TRUE(catalog_->DeleteInstance("2.1.1", now_).ok());
  const v1::ObjectManifest again = Manifest(400);
  MustCommit(Tags("2", "2.1", "2.1.1", "PAT1", "20240106", "CT"), again);
  EXPECT_EQ(catalog_->GetInstance("2.1.1")->manifest.object_id(), again.object_id());
  absl::StatusOr<DeleteResult> r = catalog_->DeleteInstance("2.1.1", now_);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->object_ids, UnorderedElementsAre(m_[3].object_id(), again.object_id()));
}

TEST_F(CatalogDeleteTest, FailedDeleteLeavesEverythingVisible) {
  const size_t index_keys = CountKeys(kIndexCf);
  writer_->set_fail(true);
  EXPECT_TRUE(absl::IsUnavailable(catalog_->DeleteStudy("1", now_).status()));
  EXPECT_TRUE(absl::IsUnavailable(catalog_->DeleteInstance("1.2.1", now_).status()));
  writer_->set_fail(false);

  for (const char* sop : {"1.1.1", "1.1.2", "1.2.1"})
    EXPECT_TRUE(catalog_->GetInstance(sop).ok()) << sop;
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.instance_count(), 3u);
  EXPECT_THAT(study->study.modalities(), ElementsAre("CT", "MR"));
  EXPECT_THAT(AllStudies(), ElementsAre("1", "2"));
  v1::StudyQuery q;
  q.set_modality("MR");
  EXPECT_THAT(FindUids(q), ElementsAre("1"));
  EXPECT_EQ(CountKeys(kIndexCf), index_keys);
  EXPECT_EQ(*catalog_->CountTombstones(), 0u);
  EXPECT_EQ(CountKeys(kManifestsCf), 4u);

  // A failed confirm leaves the ids pending as well.
  ASSERT_TRUE(catalog_->DeleteInstance("2.1.1", now_).ok());
  writer_->set_fail(true);
  EXPECT_FALSE(catalog_->ConfirmKeysDestroyed({m_[3].object_id()}).ok());
  writer_->set_fail(false);
  EXPECT_THAT(catalog_->DeleteInstance("2.1.1", now_)->object_ids, ElementsAre(m_[3].object_id()));
}

TEST_F(CatalogDeleteTest, TombstonesPersistAcrossReopen) {
  ASSERT_TRUE(catalog_->DeleteStudy("2", now_).ok());
  Reopen();
  absl::StatusOr<DeleteResult> retry = catalog_->DeleteStudy("2", now_);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_THAT(retry->object_ids, ElementsAre(m_[3].object_id()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("2.1.1").status()));
}

}  // namespace
}  // namespace medvault::metaserver
