// Index entries as the metaserver stored them before the index's rules (common/index_fields.h)
// existed: CheckIndex finds them, FindStudies pages around oversized ones, and requests naming an
// invalid UID are refused.
#include <gtest/gtest.h>

#include <set>

#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using testing::Manifest;
using testing::Tags;

class CatalogFsckTest : public CatalogTestBase {
 protected:
  // Rewrites a record as the old code could have written it, straight into RocksDB.
  template <typename Message>
  void Overwrite(const std::string& cf, const std::string& key, const Message& record) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(kv_->cf(cf), key, record.SerializeAsString()).ok());
    ASSERT_TRUE(kv_->Write(&batch).ok());
  }
  void OverwriteInstance(const std::string& key, const v1::InstanceTags& tags) {
    v1::StoredInstance record;
    *record.mutable_info()->mutable_tags() = tags;
    Overwrite(kInstancesCf, key, record);
  }
  std::vector<IndexProblem> CheckAll(size_t scan_limit) {
    std::vector<IndexProblem> all;
    std::string token;
    std::set<std::string> tokens;
    do {
      absl::StatusOr<IndexCheckPage> page = catalog_->CheckIndex(token, scan_limit);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      if (scan_limit != 0) EXPECT_LE(page->scanned, scan_limit);
      all.insert(all.end(), page->problems.begin(), page->problems.end());
      token = page->next_page_token;
      EXPECT_TRUE(tokens.insert(token).second);
    } while (!token.empty());
    return all;
  }
};

TEST_F(CatalogFsckTest, FindsUidsHexDumpsAndOversizedFieldsWrittenTheOldWay) {
  MustCommit(Tags("1.1", "1.1.1", "1.1.1.1"), Manifest());
  MustCommit(Tags("1.2", "1.2.1", "1.2.1.1"), Manifest());
  EXPECT_TRUE(CheckAll(0).empty());

  // rtdose_rle.dcm as the old frontend indexed it: UIDs read as UN, rendered as hex.
  v1::InstanceTags hex = Tags("31\\2e\\32\\2e\\39", "31\\2e\\33", "31\\2e\\39\\2e\\39");
  hex.set_patient_name("4c\\61\\73\\74");
  OverwriteInstance(hex.sop_instance_uid(), hex);
  // A path-like UID and a 25 MB patient name.
  v1::InstanceTags path = Tags("../x", "1.3.1", "a/b");
  OverwriteInstance("a/b", path);
  v1::InstanceTags big = Tags("1.2", "1.2.1", "1.2.1.1");
  big.set_patient_name(std::string(25 << 20, 'N'));
  big.set_patient_id(std::string(65, 'P'));
  OverwriteInstance("1.2.1.1", big);

  for (size_t scan_limit : {size_t{0}, size_t{1}, size_t{2}}) {
    std::vector<IndexProblem> problems = CheckAll(scan_limit);
    std::set<std::pair<std::string, std::string>> found;  // (record, attribute)
    for (const IndexProblem& p : problems) {
      found.insert({p.sop_instance_uid, p.attribute});
      EXPECT_LT(p.rule.size(), 100u);  // the rule, never the value
    }
    const std::set<std::pair<std::string, std::string>> expected = {
        {hex.sop_instance_uid(), "StudyInstanceUID"},
        {hex.sop_instance_uid(), "SeriesInstanceUID"},
        {hex.sop_instance_uid(), "SOPInstanceUID"},
        {hex.sop_instance_uid(), "PatientName"},
        {"a/b", "StudyInstanceUID"},
        {"a/b", "SOPInstanceUID"},
        {"1.2.1.1", "PatientName"},
        {"1.2.1.1", "PatientID"}};
    EXPECT_EQ(found, expected) << "scan_limit " << scan_limit;
  }
}

TEST_F(CatalogFsckTest, FindStudiesPagesStayUnderTheByteLimitWithOversizedOldSummaries) {
  for (int i = 1; i <= 6; ++i) {
    const std::string study = absl::StrCat("1.", i);
    MustCommit(Tags(study, study + ".1", study + ".1.1"), Manifest());
    v1::StoredStudy record;
    ASSERT_TRUE(kv_->Get(kStudiesCf, study).ok());
    ASSERT_TRUE(record.ParseFromString(*kv_->Get(kStudiesCf, study)));
    record.mutable_summary()->set_patient_name(std::string(kMaxPageBytes / 3, 'N'));
    Overwrite(kStudiesCf, study, record);
  }
  v1::StudyQuery query;
  query.set_page_size(1000);
  std::set<std::string> seen;
  int pages = 0;
  do {
    absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(query);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    EXPECT_GE(page->studies_size(), 1);
    EXPECT_LE(page->ByteSizeLong(), kMaxPageBytes + 1024);
    for (const auto& s : page->studies()) EXPECT_TRUE(seen.insert(s.study_uid()).second);
    query.set_page_token(page->next_page_token());
  } while (!query.page_token().empty());
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_GE(pages, 3);
}

TEST_F(CatalogFsckTest, RequestsAndCommitsNamingAnInvalidUidAreRefused) {
  MustCommit(Tags("1.1", "1.1.1", "1.1.1.1"), Manifest());
  for (const std::string& bad :
       {std::string("../x"), std::string("a/b"), std::string("1.2.3.abc def\x01"),
        std::string(65, '1'), std::string("1.01")}) {
    absl::Status get = catalog_->GetInstance(bad).status();
    EXPECT_EQ(get.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(get.message().find(bad), std::string::npos);
    EXPECT_EQ(catalog_->GetStudy(bad).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(catalog_->DeleteStudy(bad, now_).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(catalog_->DeleteInstance(bad, now_).status().code(),
              absl::StatusCode::kInvalidArgument);
    absl::Status commit = catalog_->Commit(Tags("1.5", "1.5.1", bad), Manifest(), now_).status();
    EXPECT_EQ(commit.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(commit.message().find("SOPInstanceUID"), std::string::npos) << commit;
  }
  v1::InstanceTags long_name = Tags("1.6", "1.6.1", "1.6.1.1");
  long_name.set_patient_name(std::string(65, 'N'));  // the frontend truncates; the commit refuses
  EXPECT_EQ(catalog_->Commit(long_name, Manifest(), now_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::metaserver
