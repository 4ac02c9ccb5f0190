// Catalog::FindSeries / FindInstances and the accession-number index: rows narrowed by study,
// series, patient, accession, modality and date range; paging returns each row once; the index
// stays exact under concurrent (group) commits and deletes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "metaserver/core/catalog.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using ::testing::ElementsAre;
using testing::Manifest;
using testing::Tags;

class CatalogFindTest : public CatalogTestBase {
 protected:
  // Study 1.1 (PAT1, 20240105, ACC1): series 1.1.1 CT (2 instances), 1.1.2 MR (1).
  // Study 1.2 (PAT2, 20240301, ACC2): series 1.2.1 CT (1).
  void CommitFixture() {
    auto tags = [](const char* study, const char* series, const char* sop, const char* patient,
                   const char* date, const char* modality, const char* accession) {
      v1::InstanceTags t = Tags(study, series, sop, patient, date, modality);
      t.set_accession_number(accession);
      t.set_rows(512);
      return t;
    };
    MustCommit(tags("1.1", "1.1.1", "1.1.1.1", "PAT1", "20240105", "CT", "ACC1"), Manifest(10));
    MustCommit(tags("1.1", "1.1.1", "1.1.1.2", "PAT1", "20240105", "CT", "ACC1"), Manifest(11));
    MustCommit(tags("1.1", "1.1.2", "1.1.2.1", "PAT1", "20240105", "MR", "ACC1"), Manifest(12));
    MustCommit(tags("1.2", "1.2.1", "1.2.1.1", "PAT2", "20240301", "CT", "ACC2"), Manifest(13));
  }

  std::vector<std::string> Series(v1::LevelQuery q) {
    absl::StatusOr<v1::SeriesPage> page = catalog_->FindSeries(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const v1::SeriesRow& r : page->rows()) {
      EXPECT_EQ(r.series().instances_size(), 0);
      out.push_back(absl::StrCat(r.study().study_uid(), "/", r.series().series_uid()));
    }
    return out;
  }
  std::vector<std::string> Instances(v1::LevelQuery q) {
    absl::StatusOr<v1::InstancePage> page = catalog_->FindInstances(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const v1::InstanceRow& r : page->rows()) {
      EXPECT_EQ(r.series().series_uid(), r.instance().tags().series_uid());
      out.push_back(r.instance().tags().sop_instance_uid());
    }
    return out;
  }
  size_t AccessionEntries() {
    size_t n = 0;
    auto it = kv_->NewIterator(kIndexCf);
    for (it->Seek("a"); it->Valid() && it->key().starts_with("a"); it->Next()) ++n;
    return n;
  }
};

TEST_F(CatalogFindTest, SeriesAndInstancesNarrowedByEveryIndexedField) {
  CommitFixture();
  v1::LevelQuery all;
  EXPECT_THAT(Series(all), ElementsAre("1.1/1.1.1", "1.1/1.1.2", "1.2/1.2.1"));
  v1::LevelQuery q;
  q.set_study_uid("1.1");
  EXPECT_THAT(Series(q), ElementsAre("1.1/1.1.1", "1.1/1.1.2"));
  q.set_series_uid("1.1.2");
  EXPECT_THAT(Series(q), ElementsAre("1.1/1.1.2"));
  EXPECT_THAT(Instances(q), ElementsAre("1.1.2.1"));
  q.set_series_uid("1.1.1");
  EXPECT_THAT(Instances(q), ElementsAre("1.1.1.1", "1.1.1.2"));
  q.set_sop_instance_uid("1.1.1.2");
  EXPECT_THAT(Instances(q), ElementsAre("1.1.1.2"));
  q.set_sop_instance_uid("1.1.2.1");  // not in that series
  EXPECT_TRUE(Instances(q).empty());

  v1::LevelQuery by;
  by.set_modality("CT");
  EXPECT_THAT(Series(by), ElementsAre("1.1/1.1.1", "1.2/1.2.1"));
  by.set_patient_id("PAT2");
  EXPECT_THAT(Series(by), ElementsAre("1.2/1.2.1"));
  by = v1::LevelQuery();
  by.set_accession_number("ACC1");
  EXPECT_THAT(Series(by), ElementsAre("1.1/1.1.1", "1.1/1.1.2"));
  by.set_modality("MR");
  EXPECT_THAT(Instances(by), ElementsAre("1.1.2.1"));
  by = v1::LevelQuery();
  by.set_study_date_from("20240201");
  EXPECT_THAT(Series(by), ElementsAre("1.2/1.2.1"));
  by.set_study_uid("1.1");  // named study outside the date range
  EXPECT_TRUE(Series(by).empty());
  by = v1::LevelQuery();
  by.set_study_date_to("20240131");
  EXPECT_THAT(Instances(by), ElementsAre("1.1.1.1", "1.1.1.2", "1.1.2.1"));

  // Rows carry their study and the instance's image attributes.
  v1::LevelQuery one;
  one.set_study_uid("1.2");
  absl::StatusOr<v1::InstancePage> page = catalog_->FindInstances(one);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->rows_size(), 1);
  EXPECT_EQ(page->rows(0).study().accession_number(), "ACC2");
  EXPECT_EQ(page->rows(0).series().modality(), "CT");
  EXPECT_EQ(page->rows(0).instance().tags().rows(), 512);

  // FindStudies uses the accession index too.
  v1::StudyQuery sq;
  sq.set_accession_number("ACC2");
  EXPECT_THAT(FindUids(sq), ElementsAre("1.2"));
  sq.set_patient_id("PAT1");  // patient index, accession checked on the summary
  EXPECT_TRUE(FindUids(sq).empty());
}

// A series or SOP Instance UID without a study UID is answered from that record's study, never by
// walking the study indexes: with the date index (what an unnarrowed walk reads) removed, the
// rows are still found.
TEST_F(CatalogFindTest, ASeriesOrInstanceUidAloneReadsItsStudyDirectly) {
  CommitFixture();
  rocksdb::WriteBatch drop;
  auto it = kv_->NewIterator(kIndexCf);
  for (it->Seek("d"); it->Valid() && it->key().starts_with("d"); it->Next()) {
    drop.Delete(kv_->cf(kIndexCf), it->key());
  }
  ASSERT_TRUE(kv_->Write(&drop).ok());
  v1::LevelQuery all;
  ASSERT_TRUE(Series(all).empty());  // an unnarrowed walk now finds nothing

  v1::LevelQuery q;
  q.set_series_uid("1.2.1");
  EXPECT_THAT(Series(q), ElementsAre("1.2/1.2.1"));
  EXPECT_THAT(Instances(q), ElementsAre("1.2.1.1"));
  q.set_patient_id("PAT1");  // the study's criteria still apply
  EXPECT_TRUE(Series(q).empty());
  v1::LevelQuery sop;
  sop.set_sop_instance_uid("1.1.1.2");
  EXPECT_THAT(Instances(sop), ElementsAre("1.1.1.2"));
  sop.set_series_uid("1.1.2");  // not that instance's series
  EXPECT_TRUE(Instances(sop).empty());
  v1::LevelQuery unknown;
  unknown.set_series_uid("9.9");
  EXPECT_TRUE(Series(unknown).empty());
  unknown.clear_series_uid();
  unknown.set_sop_instance_uid("9.9.9");
  EXPECT_TRUE(Instances(unknown).empty());

  // Paging through a series named alone resumes within its study.
  v1::LevelQuery paged;
  paged.set_series_uid("1.1.1");
  paged.set_page_size(1);
  absl::StatusOr<v1::InstancePage> first = catalog_->FindInstances(paged);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->rows_size(), 1);
  ASSERT_FALSE(first->next_page_token().empty());
  paged.set_page_token(first->next_page_token());
  EXPECT_THAT(Instances(paged), ElementsAre("1.1.1.2"));
}

TEST_F(CatalogFindTest, PagingReturnsEachRowOnceAndRejectsForeignTokens) {
  std::set<std::string> want_series, want_sops;
  for (int st = 0; st < 3; ++st) {
    for (int se = 0; se < 2; ++se) {
      const std::string study = absl::StrCat("2.", st), series = absl::StrCat(study, ".", se);
      want_series.insert(series);
      for (int i = 0; i < 3; ++i) {
        const std::string sop = absl::StrCat(series, ".", i);
        MustCommit(Tags(study, series, sop, "PAT1", absl::StrCat("2024010", st)), Manifest());
        want_sops.insert(sop);
      }
    }
  }
  for (uint32_t size : {1u, 2u, 4u}) {
    v1::LevelQuery q;
    q.set_patient_id("PAT1");
    q.set_page_size(size);
    std::multiset<std::string> got;
    int pages = 0;
    do {
      absl::StatusOr<v1::InstancePage> page = catalog_->FindInstances(q);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_LE(page->rows_size(), static_cast<int>(size));
      for (const auto& r : page->rows()) got.insert(r.instance().tags().sop_instance_uid());
      q.set_page_token(page->next_page_token());
      ASSERT_LT(++pages, 100);
    } while (!q.page_token().empty());
    EXPECT_EQ(got, std::multiset<std::string>(want_sops.begin(), want_sops.end())) << size;

    q = v1::LevelQuery();
    q.set_page_size(size);
    std::multiset<std::string> series;
    do {
      absl::StatusOr<v1::SeriesPage> page = catalog_->FindSeries(q);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& r : page->rows()) series.insert(r.series().series_uid());
      q.set_page_token(page->next_page_token());
    } while (!q.page_token().empty());
    EXPECT_EQ(series, std::multiset<std::string>(want_series.begin(), want_series.end()));
  }
  // One study named, paged.
  v1::LevelQuery q;
  q.set_study_uid("2.1");
  q.set_page_size(4);
  absl::StatusOr<v1::InstancePage> first = catalog_->FindInstances(q);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token().empty());
  q.set_page_token(first->next_page_token());
  absl::StatusOr<v1::InstancePage> second = catalog_->FindInstances(q);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->rows_size() + second->rows_size(), 6);
  EXPECT_TRUE(second->next_page_token().empty());
  // A token used with another query is refused.
  q.set_study_uid("2.2");
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->FindInstances(q).status()));
  v1::LevelQuery other;
  other.set_modality("MR");
  other.set_page_token(first->next_page_token());
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->FindSeries(other).status()));
  other.set_page_token("garbage");
  EXPECT_TRUE(absl::IsInvalidArgument(catalog_->FindSeries(other).status()));
}

TEST_F(CatalogFindTest, AccessionIndexExactUnderConcurrentCommitsAndDeletes) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        // Every thread adds to the same two new studies: their first commits race in one group.
        const std::string study = absl::StrCat("3.", i % 2);
        v1::InstanceTags tags =
            Tags(study, absl::StrCat(study, ".", t), absl::StrCat(study, ".", t, ".", i));
        tags.set_accession_number(absl::StrCat("ACC", i % 2));
        EXPECT_TRUE(catalog_->Commit(tags, Manifest(10, 1, tags.sop_instance_uid()), now_).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(AccessionEntries(), 2u);
  v1::LevelQuery q;
  q.set_accession_number("ACC1");
  q.set_page_size(1000);
  EXPECT_EQ(Instances(q).size(), static_cast<size_t>(kThreads * 2));
  EXPECT_EQ(Series(q).size(), static_cast<size_t>(kThreads));

  // Deleting the last instance of study 3.1 one by one removes its entry with the study.
  std::vector<std::string> sops = Instances(q);
  for (size_t i = 0; i < sops.size(); ++i) {
    EXPECT_EQ(AccessionEntries(), 2u) << i;
    ASSERT_TRUE(catalog_->DeleteInstance(sops[i], now_).ok());
  }
  EXPECT_EQ(AccessionEntries(), 1u);
  EXPECT_TRUE(Instances(q).empty());
  ASSERT_TRUE(catalog_->DeleteStudy("3.0", now_).ok());
  EXPECT_EQ(AccessionEntries(), 0u);
  v1::StudyQuery sq;
  sq.set_accession_number("ACC0");
  EXPECT_TRUE(FindUids(sq).empty());
  // CheckIndex (fsck) sees nothing wrong with what remains.
  absl::StatusOr<IndexCheckPage> check = catalog_->CheckIndex("", 0);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->problems.empty());
}

}  // namespace
}  // namespace medvault::metaserver
