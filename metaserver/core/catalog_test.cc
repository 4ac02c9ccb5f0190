// Catalog: commit, lookups, FindStudies over the secondary indexes, atomicity and persistence.
#include "metaserver/core/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Manifest;
using ::testing::Not;
using testing::Tags;

class CatalogTest : public CatalogTestBase {};

TEST_F(CatalogTest, CommitThenGetInstanceStudyAndFind) {
  const v1::ObjectManifest m1 = Manifest(1000, 2);
  const v1::ObjectManifest m2 = Manifest(500, 1);
  v1::InstanceTags t2 = Tags("1.2.3", "1.2.3.2", "1.2.3.2.1", "PAT1", "20240105", "MR");
  t2.set_series_number(2);
  MustCommit(Tags("1.2.3", "1.2.3.1", "1.2.3.1.1"), m1);
  MustCommit(t2, m2);

  absl::StatusOr<InstanceRecord> got = catalog_->GetInstance("1.2.3.1.1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->manifest.SerializeAsString(), m1.SerializeAsString());
  EXPECT_EQ(got->info.size(), 1000u);
  EXPECT_EQ(got->info.sha256(), m1.sha256());
  EXPECT_EQ(got->info.stored_at_micros(), now_);
  EXPECT_EQ(got->info.tags().patient_id(), "PAT1");

  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1.2.3");
  ASSERT_TRUE(study.ok()) << study.status();
  EXPECT_EQ(study->study.patient_id(), "PAT1");
  EXPECT_EQ(study->study.patient_name(), "Doe^Jane");
  EXPECT_EQ(study->study.series_count(), 2u);
  EXPECT_EQ(study->study.instance_count(), 2u);
  EXPECT_EQ(study->study.total_bytes(), 1500u);
  EXPECT_THAT(study->study.modalities(), ElementsAre("CT", "MR"));
  ASSERT_EQ(study->series.size(), 2u);
  EXPECT_EQ(study->series[0].series_uid(), "1.2.3.1");
  EXPECT_EQ(study->series[0].modality(), "CT");
  EXPECT_EQ(study->series[0].instance_count(), 1u);
  EXPECT_EQ(study->series[0].total_bytes(), 1000u);
  ASSERT_EQ(study->series[0].instances_size(), 1);
  EXPECT_EQ(study->series[0].instances(0).tags().sop_instance_uid(), "1.2.3.1.1");
  EXPECT_EQ(study->series[1].series_uid(), "1.2.3.2");

  v1::StudyQuery q;
  EXPECT_THAT(FindUids(q), ElementsAre("1.2.3"));  // one entry per study, not per modality
  q.set_modality("MR");
  EXPECT_THAT(FindUids(q), ElementsAre("1.2.3"));
  q.set_modality("US");
  EXPECT_TRUE(FindUids(q).empty());

  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("9.9").status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetStudy("9.9").status()));
}

TEST_F(CatalogTest, RejectsMalformedCommits) {
  auto expect_invalid = [&](const v1::InstanceTags& t, const v1::ObjectManifest& m) {
    absl::Status s = catalog_->Commit(t, m, now_).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  };
  const v1::ObjectManifest good = Manifest();
  expect_invalid(Tags("", "1.1", "1.1.1"), good);
  expect_invalid(Tags("1", "", "1.1.1"), good);
  expect_invalid(Tags("1", "1.1", ""), good);
  expect_invalid(Tags(std::string("1\0x", 3), "1.1", "1.1.1"), good);
  expect_invalid(Tags("1", "1.1", std::string("1.1\0", 4)), good);
  expect_invalid(Tags("1", "1.1", "1.1.1", std::string("P\0", 2)), good);
  v1::ObjectManifest m = good;
  m.set_object_id("short");
  expect_invalid(Tags("1", "1.1", "1.1.1"), m);
  m = good;
  m.clear_chunks();
  expect_invalid(Tags("1", "1.1", "1.1.1"), m);
  m = good;
  m.mutable_chunks(1)->set_chunk_id("x");
  expect_invalid(Tags("1", "1.1", "1.1.1"), m);
  m = good;
  m.mutable_chunks(0)->clear_server_ids();
  expect_invalid(Tags("1", "1.1", "1.1.1"), m);
  m = good;
  m.set_sha256("abc");
  expect_invalid(Tags("1", "1.1", "1.1.1"), m);
  EXPECT_EQ(writer_->writes(), 0);
  EXPECT_EQ(CountKeys(kInstancesCf), 0u);
}

TEST_F(CatalogTest, IdenticalRecommitIsAlreadyStoredDifferentShaIsAlreadyExists) {
  const v1::ObjectManifest m = Manifest(1000, 2, "first");
  MustCommit(Tags("1.2.3", "1.2.3.1", "1.2.3.1.1"), m);
  const int writes = writer_->writes();

  // A re-send: the frontend encrypted it again under a new object id, same plaintext hash.
  v1::ObjectManifest again = Manifest(1000, 2, "first");
  absl::StatusOr<CommitResult> r =
      catalog_->Commit(Tags("1.2.3", "1.2.3.1", "1.2.3.1.1"), again, now_ + 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->already_stored);
  EXPECT_EQ(r->info.stored_at_micros(), now_);
  EXPECT_EQ(writer_->writes(), writes);

  v1::ObjectManifest other = Manifest(1000, 2, "second");
  absl::Status s =
      catalog_->Commit(Tags("1.2.3", "1.2.3.1", "1.2.3.1.1", "PAT1"), other, now_).status();
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(s.message(),
            "an instance with this SOP Instance UID is already stored with different content");
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("1.2.3")));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("PAT1")));

  // Counts were not bumped by either attempt.
  EXPECT_EQ(catalog_->GetStudy("1.2.3")->study.instance_count(), 1u);
}

TEST_F(CatalogTest, RejectsReusedObjectAndChunkIds) {
  const v1::ObjectManifest m = Manifest();
  MustCommit(Tags("1", "1.1", "1.1.1"), m);
  v1::ObjectManifest same_object = Manifest();
  same_object.set_object_id(m.object_id());
  EXPECT_TRUE(absl::IsAlreadyExists(
      catalog_->Commit(Tags("1", "1.1", "1.1.2"), same_object, now_).status()));
  v1::ObjectManifest same_chunk = Manifest();
  same_chunk.mutable_chunks(1)->set_chunk_id(m.chunks(0).chunk_id());
  EXPECT_TRUE(absl::IsAlreadyExists(
      catalog_->Commit(Tags("1", "1.1", "1.1.3"), same_chunk, now_).status()));
  // A series cannot move to another study.
  EXPECT_TRUE(absl::IsInvalidArgument(
      catalog_->Commit(Tags("2", "1.1", "1.1.4"), Manifest(), now_).status()));
}

TEST_F(CatalogTest, FailedCommitLeavesNothingVisible) {
  MustCommit(Tags("1", "1.1", "1.1.1"), Manifest());
  const size_t index_keys = CountKeys(kIndexCf);
  writer_->set_fail(true);
  // A new study, a new series in an existing study, and a new instance in an existing series.
  const v1::ObjectManifest m = Manifest(777, 3);
  for (const v1::InstanceTags& t :
       {Tags("2", "2.1", "2.1.1", "PAT2", "20230101", "MR"),
        Tags("1", "1.2", "1.2.1", "PAT1", "20240105", "US"), Tags("1", "1.1", "1.1.2")}) {
    absl::Status s = catalog_->Commit(t, m, now_).status();
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  }
  writer_->set_fail(false);

  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("2.1.1").status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("1.2.1").status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetInstance("1.1.2").status()));
  EXPECT_TRUE(absl::IsNotFound(catalog_->GetStudy("2").status()));
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.instance_count(), 1u);
  EXPECT_EQ(study->study.series_count(), 1u);
  EXPECT_THAT(study->study.modalities(), ElementsAre("CT"));
  EXPECT_EQ(study->series.size(), 1u);
  EXPECT_EQ(CountKeys(kIndexCf), index_keys);
  EXPECT_EQ(CountKeys(kInstancesCf), 1u);
  EXPECT_EQ(CountKeys(kSeriesCf), 1u);
  EXPECT_EQ(CountKeys(kStudiesCf), 1u);
  EXPECT_EQ(CountKeys(kManifestsCf), 1u);
  EXPECT_EQ(CountKeys(kChunksCf), 2u);
  for (const auto& c : m.chunks()) EXPECT_FALSE(*catalog_->IsChunkReferenced(c.chunk_id()));
  v1::StudyQuery q;
  q.set_patient_id("PAT2");
  EXPECT_TRUE(FindUids(q).empty());
  q.Clear();
  q.set_modality("US");
  EXPECT_TRUE(FindUids(q).empty());

  // The same commit succeeds once writes work again.
  MustCommit(Tags("2", "2.1", "2.1.1", "PAT2", "20230101", "MR"), m);
  for (const auto& c : m.chunks()) EXPECT_TRUE(*catalog_->IsChunkReferenced(c.chunk_id()));
}

TEST_F(CatalogTest, FindByPatientDateRangeAndModality) {
  MustCommit(Tags("9.1", "9.1.1", "9.1.1.1", "PA", "20240101", "CT"), Manifest());
  MustCommit(Tags("9.2", "9.2.1", "9.2.1.1", "PA", "20240301", "MR"), Manifest());
  MustCommit(Tags("9.3", "9.3.1", "9.3.1.1", "PB", "20240201", "CT"), Manifest());
  MustCommit(Tags("9.4", "9.4.1", "9.4.1.1", "PB", "", "CT"), Manifest());  // no study date
  MustCommit(Tags("9.5", "9.5.1", "9.5.1.1", "PAB", "20240215", "US"), Manifest());

  v1::StudyQuery q;
  q.set_patient_id("PA");  // not a prefix match: PAB is another patient
  EXPECT_THAT(FindUids(q), ElementsAre("9.1", "9.2"));
  q.set_study_date_from("20240201");
  EXPECT_THAT(FindUids(q), ElementsAre("9.2"));
  q.set_study_date_from("");
  q.set_modality("CT");
  EXPECT_THAT(FindUids(q), ElementsAre("9.1"));

  q.Clear();
  q.set_study_date_from("20240101");
  q.set_study_date_to("20240215");
  EXPECT_THAT(FindUids(q), ElementsAre("9.1", "9.3", "9.5"));  // inclusive, date order
  q.set_study_date_from("");
  EXPECT_THAT(FindUids(q), ElementsAre("9.1", "9.3", "9.5"));  // undated studies excluded
  q.set_study_date_to("20231231");
  EXPECT_TRUE(FindUids(q).empty());
  q.set_study_date_from("20240302");
  q.set_study_date_to("20240301");
  EXPECT_TRUE(FindUids(q).empty());

  q.Clear();
  EXPECT_THAT(FindUids(q), ElementsAre("9.4", "9.1", "9.3", "9.5", "9.2"));  // all, by date key
  q.set_modality("CT");
  EXPECT_THAT(FindUids(q), ElementsAre("9.4", "9.1", "9.3"));
  q.set_study_date_from("20240102");
  EXPECT_THAT(FindUids(q), ElementsAre("9.3"));

  q.Clear();
  q.set_patient_id("PB");
  EXPECT_THAT(FindUids(q), ElementsAre("9.4", "9.3"));
}

TEST_F(CatalogTest, PaginationReturnsEachStudyExactlyOnce) {
  constexpr int kStudies = 250;
  for (int i = 0; i < kStudies; ++i) {
    const std::string uid = absl::StrCat("2.25.", i);
    // Several studies share a date so the resume key must include the UID.
    const std::string date = absl::StrCat("2024", 10 + i % 3, "01");
    MustCommit(Tags(uid, uid + ".1", uid + ".1.1", "PAT", date, i % 2 ? "CT" : "MR"), Manifest());
  }
  for (const char* patient : {"", "PAT"}) {
    v1::StudyQuery q;
    q.set_patient_id(patient);
    q.set_page_size(100);
    std::multiset<std::string> seen;
    std::vector<int> page_sizes;
    while (true) {
      absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(q);
      ASSERT_TRUE(page.ok()) << page.status();
      page_sizes.push_back(page->studies_size());
      for (const auto& s : page->studies()) seen.insert(s.study_uid());
      if (page->next_page_token().empty()) break;
      q.set_page_token(page->next_page_token());
    }
    EXPECT_THAT(page_sizes, ElementsAre(100, 100, 50));
    EXPECT_EQ(seen.size(), static_cast<size_t>(kStudies));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(),
              static_cast<size_t>(kStudies));
  }
  // Filtered pages (modality on the patient index) and the modality index paginate too.
  for (bool by_patient : {true, false}) {
    v1::StudyQuery q;
    if (by_patient) q.set_patient_id("PAT");
    q.set_modality("CT");
    q.set_page_size(40);
    std::set<std::string> seen;
    size_t total = 0;
    while (true) {
      absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(q);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& s : page->studies()) {
        seen.insert(s.study_uid());
        ++total;
      }
      if (page->next_page_token().empty()) break;
      q.set_page_token(page->next_page_token());
    }
    EXPECT_EQ(total, 125u);
    EXPECT_EQ(seen.size(), 125u);
  }
  // Exactly a page left: no token pointing at an empty page.
  v1::StudyQuery q;
  q.set_page_size(250);
  absl::StatusOr<v1::StudyPage> all = catalog_->FindStudies(q);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->studies_size(), 250);
  EXPECT_TRUE(all->next_page_token().empty());
  // Page size defaults and caps.
  q.set_page_size(0);
  EXPECT_EQ(catalog_->FindStudies(q)->studies_size(), 100);
  q.set_page_size(5000);
  EXPECT_EQ(catalog_->FindStudies(q)->studies_size(), 250);
}

TEST_F(CatalogTest, RejectsPageTokenOfAnotherQuery) {
  for (int i = 0; i < 3; ++i) {
    MustCommit(Tags(absl::StrCat("9.", i), absl::StrCat("9.", i, ".1"),
                    absl::StrCat("9.", i, ".1.1"), "P"),
               Manifest());
  }
  v1::StudyQuery q;
  q.set_page_size(1);
  absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(q);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_page_token().empty());
  v1::StudyQuery other;
  other.set_patient_id("P");
  other.set_page_token(page->next_page_token());
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->FindStudies(other).status()));
  other.set_page_token("garbage");
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->FindStudies(other).status()));
}

TEST_F(CatalogTest, StatePersistsAcrossReopen) {
  const v1::ObjectManifest m = Manifest(4096, 3);
  MustCommit(Tags("1.9", "1.9.1", "1.9.1.1", "PZ", "20200202", "XA"), m);
  Reopen();
  absl::StatusOr<InstanceRecord> got = catalog_->GetInstance("1.9.1.1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->manifest.SerializeAsString(), m.SerializeAsString());
  v1::StudyQuery q;
  q.set_patient_id("PZ");
  EXPECT_THAT(FindUids(q), ElementsAre("1.9"));
  EXPECT_TRUE(*catalog_->IsChunkReferenced(m.chunks(2).chunk_id()));
  EXPECT_EQ(catalog_->GetStudy("1.9")->study.total_bytes(), 4096u);
}

}  // namespace
}  // namespace medvault::metaserver
