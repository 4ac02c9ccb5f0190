// Catalog::BackfillStudies on a real RocksDB: studies stored as an older metaserver stored them
// (no accession-number index entry, no StudyTime or PatientSex in the summary) are found by
// accession number and carry those fields after the backfill; a second run writes nothing; the
// backfill survives a reopen and pages through the study records.
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

class CatalogBackfillTest : public CatalogTestBase {
 protected:
  void CommitOld(const std::string& study, const std::string& accession) {
    v1::InstanceTags t = Tags(study, study + ".1", study + ".1.1");
    t.set_accession_number(accession);
    t.set_study_time("101500");
    t.set_patient_sex("F");
    MustCommit(t, Manifest());
  }

  // What a metaserver without the accession index and those summary fields left on disk.
  void MakeOld() {
    rocksdb::WriteBatch batch;
    auto it = kv_->NewIterator(kIndexCf);
    for (it->Seek("a"); it->Valid() && it->key().starts_with("a"); it->Next()) {
      batch.Delete(kv_->cf(kIndexCf), it->key());
    }
    auto studies = kv_->NewIterator(kStudiesCf);
    for (studies->SeekToFirst(); studies->Valid(); studies->Next()) {
      v1::StoredStudy study;
      ASSERT_TRUE(study.ParseFromString(studies->value().ToString()));
      study.mutable_summary()->clear_study_time();
      study.mutable_summary()->clear_patient_sex();
      if (study.summary().study_uid() == "1.2") study.clear_study_time();  // from the instance
      batch.Put(kv_->cf(kStudiesCf), studies->key(), study.SerializeAsString());
    }
    ASSERT_TRUE(kv_->Write(&batch).ok());
  }

  v1::StudySummary Summary(const std::string& study) {
    absl::StatusOr<StudyDetail> d = catalog_->GetStudy(study);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->study : v1::StudySummary();
  }

  std::vector<std::string> ByAccession(const std::string& accession) {
    v1::StudyQuery q;
    q.set_accession_number(accession);
    return FindUids(q);
  }
};

TEST_F(CatalogBackfillTest, OldStudiesGetTheirAccessionEntryAndSummaryFieldsOnce) {
  CommitOld("1.1", "ACC1");
  CommitOld("1.2", "ACC2");
  CommitOld("1.3", "");  // no accession number: no entry to write
  MakeOld();
  ASSERT_TRUE(ByAccession("ACC1").empty());
  ASSERT_EQ(Summary("1.2").study_time(), "");

  // One study a page: three pages, one write per page that had something to fix.
  const int writes_before = writer_->writes();
  std::string after;
  BackfillPage total;
  int pages = 0;
  do {
    absl::StatusOr<BackfillPage> page = catalog_->BackfillStudies(after, 1);
    ASSERT_TRUE(page.ok()) << page.status();
    total.accession_entries += page->accession_entries;
    total.summaries += page->summaries;
    after = page->next_page_token;
    ++pages;
  } while (!after.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(total.accession_entries, 2u);
  EXPECT_EQ(total.summaries, 3u);
  EXPECT_EQ(writer_->writes() - writes_before, 3);

  EXPECT_THAT(ByAccession("ACC1"), ElementsAre("1.1"));
  EXPECT_THAT(ByAccession("ACC2"), ElementsAre("1.2"));
  for (const char* study : {"1.1", "1.2", "1.3"}) {
    EXPECT_EQ(Summary(study).study_time(), "101500") << study;
    EXPECT_EQ(Summary(study).patient_sex(), "F") << study;
  }

  // Idempotent, and durable across a reopen: a second run finds nothing to write.
  Reopen();
  absl::StatusOr<BackfillPage> again = catalog_->BackfillAllStudies();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->scanned, 3u);
  EXPECT_EQ(again->studies_fixed, 0u);
  EXPECT_EQ(writer_->writes(), 0);
  EXPECT_THAT(ByAccession("ACC2"), ElementsAre("1.2"));
}

// A write that fails leaves the studies as they were; the next run fixes them.
TEST_F(CatalogBackfillTest, AFailedWriteIsRetriedByTheNextRun) {
  CommitOld("1.1", "ACC1");
  MakeOld();
  writer_->set_fail(true);
  EXPECT_FALSE(catalog_->BackfillAllStudies().ok());
  EXPECT_TRUE(ByAccession("ACC1").empty());
  writer_->set_fail(false);
  absl::StatusOr<BackfillPage> done = catalog_->BackfillAllStudies();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->studies_fixed, 1u);
  EXPECT_THAT(ByAccession("ACC1"), ElementsAre("1.1"));
}

}  // namespace
}  // namespace medvault::metaserver
