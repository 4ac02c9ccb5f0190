#include "frontend/dimse/find_query.h"

#include <set>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

// Two patients, three studies; the second study has two series, one with two instances. The
// fake index answers FindStudies, FindSeries and FindInstances narrowed as the metaserver does
// (study, series, SOP UIDs, patient id, modality), and records what it was asked.
class FindQueryTest : public ::testing::Test {
 protected:
  FindQueryTest() {
    AddStudy("P1", "Doe^Jane", "S1", "20040826", {{"SE1", "CT", {"I1"}}});
    AddStudy("P1", "Doe^Jane", "S2", "20100101",
             {{"SE2", "MR", {"I2", "I3"}}, {"SE3", "CT", {"I4"}}});
    AddStudy("P2", "Roe^Rick", "S3", "", {{"SE4", "US", {"I5"}}});
    source_.studies = [this](const v1::FindStudiesRequest& r) {
      study_queries_.push_back(r.query());
      v1::FindStudiesResponse out;
      for (const v1::StudySummary& s : studies_) {
        if (!r.query().patient_id().empty() && r.query().patient_id() != s.patient_id()) continue;
        *out.mutable_page()->add_studies() = s;
      }
      return out;
    };
    source_.series = [this](const v1::FindSeriesRequest& r) {
      level_queries_.push_back(r.query());
      v1::FindSeriesResponse out;
      std::set<std::string> seen;
      for (const v1::InstanceRow& row : rows_) {
        if (!Narrowed(r.query(), row) || !seen.insert(row.series().series_uid()).second) continue;
        v1::SeriesRow& s = *out.mutable_page()->add_rows();
        *s.mutable_study() = row.study();
        *s.mutable_series() = row.series();
        if (r.query().page_size() == 1) break;
      }
      return out;
    };
    source_.instances = [this](const v1::FindInstancesRequest& r) {
      level_queries_.push_back(r.query());
      v1::FindInstancesResponse out;
      for (const v1::InstanceRow& row : rows_) {
        if (Narrowed(r.query(), row)) *out.mutable_page()->add_rows() = row;
      }
      return out;
    };
  }

  static bool Narrowed(const v1::LevelQuery& q, const v1::InstanceRow& row) {
    auto is = [](const std::string& want, const std::string& have) {
      return want.empty() || want == have;
    };
    return is(q.study_uid(), row.study().study_uid()) &&
           is(q.series_uid(), row.series().series_uid()) &&
           is(q.sop_instance_uid(), row.instance().tags().sop_instance_uid()) &&
           is(q.patient_id(), row.study().patient_id()) &&
           is(q.modality(), row.series().modality());
  }

  struct Series {
    std::string uid, modality;
    std::vector<std::string> instances;
  };
  void AddStudy(const std::string& pid, const std::string& name, const std::string& uid,
                const std::string& date, std::vector<Series> series) {
    v1::StudySummary sum;
    sum.set_study_uid(uid);
    sum.set_patient_id(pid);
    sum.set_patient_name(name);
    sum.set_study_date(date);
    sum.set_patient_sex("F");
    sum.set_study_time("101500");
    std::set<std::string> modalities;
    for (const Series& se : series) {
      modalities.insert(se.modality);
      sum.set_instance_count(sum.instance_count() + se.instances.size());
    }
    for (const std::string& m : modalities) sum.add_modalities(m);
    sum.set_series_count(series.size());
    studies_.push_back(sum);
    int number = 0;
    for (const Series& se : series) {
      v1::SeriesInfo info;
      info.set_series_uid(se.uid);
      info.set_modality(se.modality);
      info.set_series_number(++number);
      info.set_instance_count(se.instances.size());
      int instance_number = 0;
      for (const std::string& i : se.instances) {
        v1::InstanceRow row;
        *row.mutable_study() = sum;
        *row.mutable_series() = info;
        v1::InstanceTags& tags = *row.mutable_instance()->mutable_tags();
        tags.set_sop_instance_uid(i);
        tags.set_sop_class_uid("1.2.840.10008.5.1.4.1.1.2");
        tags.set_instance_number(++instance_number);
        rows_.push_back(row);
      }
    }
  }

  std::vector<std::unique_ptr<DcmDataset>> Run(
      QueryModel model, std::vector<std::pair<DcmTagKey, std::string>> keys) {
    DcmDataset id;
    for (const auto& [tag, value] : keys) id.putAndInsertString(tag, value.c_str());
    auto answers = AnswerFind(source_, model, id, "MEDVAULT");
    EXPECT_TRUE(answers.ok()) << answers.status();
    return answers.ok() ? std::move(*answers) : std::vector<std::unique_ptr<DcmDataset>>{};
  }
  static std::string Get(DcmDataset& ds, const DcmTagKey& tag) {
    OFString v;
    ds.findAndGetOFStringArray(tag, v);
    return v.c_str();
  }

  std::vector<v1::StudySummary> studies_;
  std::vector<v1::InstanceRow> rows_;
  IndexSource source_;
  std::vector<v1::StudyQuery> study_queries_;
  std::vector<v1::LevelQuery> level_queries_;
};

TEST_F(FindQueryTest, StudyLevelFillsReturnKeysAndNarrowsByPatientId) {
  auto answers = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "STUDY"},
                                              {DCM_PatientID, "P1"},
                                              {DCM_StudyInstanceUID, ""},
                                              {DCM_PatientName, ""},
                                              {DCM_ModalitiesInStudy, ""},
                                              {DCM_NumberOfStudyRelatedSeries, ""},
                                              {DCM_NumberOfStudyRelatedInstances, ""},
                                              {DCM_StudyID, ""}});
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_EQ(study_queries_.size(), 1u);
  EXPECT_EQ(study_queries_[0].patient_id(), "P1");  // narrowed in the index
  EXPECT_TRUE(level_queries_.empty());              // the summaries were enough
  DcmDataset& s2 = *answers[1];
  EXPECT_EQ(Get(s2, DCM_StudyInstanceUID), "S2");
  EXPECT_EQ(Get(s2, DCM_PatientName), "Doe^Jane");
  EXPECT_EQ(Get(s2, DCM_ModalitiesInStudy), "CT\\MR");
  EXPECT_EQ(Get(s2, DCM_NumberOfStudyRelatedSeries), "2");
  EXPECT_EQ(Get(s2, DCM_NumberOfStudyRelatedInstances), "3");
  EXPECT_EQ(Get(s2, DCM_QueryRetrieveLevel), "STUDY");
  // A key the index does not hold is returned, empty.
  EXPECT_TRUE(s2.tagExists(DCM_StudyID));
  EXPECT_EQ(Get(s2, DCM_StudyID), "");
}

TEST_F(FindQueryTest, WildcardsDateRangesModalitiesAndUidLists) {
  EXPECT_EQ(
      Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_PatientName, "Doe*"}})
          .size(),
      2u);
  EXPECT_EQ(
      Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyDate, "20050101-"}})
          .size(),
      1u);
  EXPECT_EQ(Run(QueryModel::kStudyRoot,
                {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_ModalitiesInStudy, "MR"}})
                .size(),
            1u);
  EXPECT_EQ(Run(QueryModel::kStudyRoot,
                {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyInstanceUID, "S1\\S3\\S9"}})
                .size(),
            2u);
  EXPECT_EQ(
      Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyTime, "1000-1100"}})
          .size(),
      3u);
}

TEST_F(FindQueryTest, SeriesAndImageLevels) {
  auto series = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "SERIES"},
                                             {DCM_StudyInstanceUID, "S2"},
                                             {DCM_SeriesInstanceUID, ""},
                                             {DCM_Modality, "MR"},
                                             {DCM_SeriesNumber, ""},
                                             {DCM_NumberOfSeriesRelatedInstances, ""}});
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(Get(*series[0], DCM_SeriesInstanceUID), "SE2");
  EXPECT_EQ(Get(*series[0], DCM_SeriesNumber), "1");
  EXPECT_EQ(Get(*series[0], DCM_NumberOfSeriesRelatedInstances), "2");
  auto images = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "IMAGE"},
                                             {DCM_StudyInstanceUID, "S2"},
                                             {DCM_SeriesInstanceUID, "SE2"},
                                             {DCM_SOPInstanceUID, ""},
                                             {DCM_SOPClassUID, ""},
                                             {DCM_InstanceNumber, ""}});
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(Get(*images[1], DCM_SOPInstanceUID), "I3");
  EXPECT_EQ(Get(*images[1], DCM_InstanceNumber), "2");
  EXPECT_EQ(Get(*images[1], DCM_SOPClassUID), "1.2.840.10008.5.1.4.1.1.2");
}

// A SERIES query naming only series (no study) is one series search per UID in the index: no
// study search, no study listing.
TEST_F(FindQueryTest, SeriesLevelBySeriesUidsAloneNarrowsTheIndexSearch) {
  auto series = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "SERIES"},
                                             {DCM_SeriesInstanceUID, "SE3\\SE4\\SE9"},
                                             {DCM_StudyInstanceUID, ""},
                                             {DCM_Modality, ""},
                                             {DCM_SeriesDescription, ""},
                                             {DCM_SeriesNumber, ""},
                                             {DCM_NumberOfSeriesRelatedInstances, ""}});
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(Get(*series[0], DCM_SeriesInstanceUID), "SE3");
  EXPECT_EQ(Get(*series[0], DCM_StudyInstanceUID), "S2");
  EXPECT_EQ(Get(*series[0], DCM_Modality), "CT");
  EXPECT_EQ(Get(*series[0], DCM_SeriesNumber), "2");
  EXPECT_EQ(Get(*series[0], DCM_NumberOfSeriesRelatedInstances), "1");
  EXPECT_TRUE(series[0]->tagExists(DCM_SeriesDescription));
  EXPECT_EQ(Get(*series[1], DCM_SeriesInstanceUID), "SE4");
  EXPECT_TRUE(study_queries_.empty());
  ASSERT_EQ(level_queries_.size(), 3u);
  EXPECT_EQ(level_queries_[0].series_uid(), "SE3");
  EXPECT_EQ(level_queries_[2].series_uid(), "SE9");
  EXPECT_TRUE(level_queries_[0].study_uid().empty());
}

// IMAGE level: a list of SOP Instance UIDs is one instance search each; Modality narrows the
// search; InstanceNumber and wildcards are matched on the rows; keys of the levels above are
// answered from the row's study and series.
TEST_F(FindQueryTest, ImageLevelNarrowsByUidsAndModalityAndMatchesTheRest) {
  auto images = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "IMAGE"},
                                             {DCM_SOPInstanceUID, "I4\\I2\\I9"},
                                             {DCM_SOPClassUID, ""},
                                             {DCM_InstanceNumber, ""},
                                             {DCM_SeriesInstanceUID, ""},
                                             {DCM_StudyInstanceUID, ""},
                                             {DCM_PatientName, "Doe*"}});
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(Get(*images[0], DCM_SOPInstanceUID), "I4");
  EXPECT_EQ(Get(*images[0], DCM_SeriesInstanceUID), "SE3");
  EXPECT_EQ(Get(*images[0], DCM_StudyInstanceUID), "S2");
  EXPECT_EQ(Get(*images[0], DCM_InstanceNumber), "1");
  EXPECT_EQ(Get(*images[1], DCM_SOPInstanceUID), "I2");
  EXPECT_EQ(Get(*images[1], DCM_PatientName), "Doe^Jane");
  ASSERT_EQ(level_queries_.size(), 3u);
  EXPECT_EQ(level_queries_[1].sop_instance_uid(), "I2");

  level_queries_.clear();
  auto ct = Run(QueryModel::kPatientRoot, {{DCM_QueryRetrieveLevel, "IMAGE"},
                                           {DCM_PatientID, "P1"},
                                           {DCM_Modality, "CT"},
                                           {DCM_SOPInstanceUID, ""}});
  ASSERT_EQ(ct.size(), 2u);
  ASSERT_EQ(level_queries_.size(), 1u);
  EXPECT_EQ(level_queries_[0].modality(), "CT");
  EXPECT_EQ(level_queries_[0].patient_id(), "P1");
  EXPECT_EQ(Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "IMAGE"},
                                         {DCM_StudyInstanceUID, "S2"},
                                         {DCM_InstanceNumber, "2"},
                                         {DCM_SOPInstanceUID, ""}})
                .size(),
            1u);
  // A key below the query level is not answered.
  auto study = Run(
      QueryModel::kStudyRoot,
      {{DCM_QueryRetrieveLevel, "STUDY"}, {DCM_StudyInstanceUID, "S1"}, {DCM_SOPInstanceUID, ""}});
  ASSERT_EQ(study.size(), 1u);
  EXPECT_FALSE(study[0]->tagExists(DCM_SOPInstanceUID));
}

// A study named by UID is read through its first series row, never listed whole.
TEST_F(FindQueryTest, StudyUidsAreLookedUpOneRowEach) {
  auto studies = Run(QueryModel::kStudyRoot, {{DCM_QueryRetrieveLevel, "STUDY"},
                                              {DCM_StudyInstanceUID, "S1\\S3\\S9"},
                                              {DCM_StudyTime, ""},
                                              {DCM_PatientSex, ""}});
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(Get(*studies[1], DCM_StudyInstanceUID), "S3");
  EXPECT_EQ(Get(*studies[1], DCM_StudyTime), "101500");
  EXPECT_EQ(Get(*studies[1], DCM_PatientSex), "F");
  ASSERT_EQ(level_queries_.size(), 3u);
  for (const v1::LevelQuery& q : level_queries_) EXPECT_EQ(q.page_size(), 1u);
}

// A query the index cannot narrow is refused once it has examined 200,000 rows.
TEST_F(FindQueryTest, AnUnnarrowableQueryIsRefusedPastTheBudget) {
  int pages = 0;
  source_.instances = [&](const v1::FindInstancesRequest&) {
    ++pages;
    v1::FindInstancesResponse out;
    for (int i = 0; i < 1000; ++i) *out.mutable_page()->add_rows() = rows_[0];
    out.mutable_page()->set_next_page_token("more");
    return out;
  };
  DcmDataset id;
  id.putAndInsertString(DCM_QueryRetrieveLevel, "IMAGE");
  id.putAndInsertString(DCM_InstanceNumber, "7");
  EXPECT_EQ(AnswerFind(source_, QueryModel::kStudyRoot, id, "").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pages, 200);
}

TEST_F(FindQueryTest, PatientLevelAggregatesStudies) {
  auto patients = Run(QueryModel::kPatientRoot, {{DCM_QueryRetrieveLevel, "PATIENT"},
                                                 {DCM_PatientID, ""},
                                                 {DCM_PatientName, ""},
                                                 {DCM_PatientSex, ""},
                                                 {DCM_NumberOfPatientRelatedStudies, ""},
                                                 {DCM_NumberOfPatientRelatedInstances, ""}});
  ASSERT_EQ(patients.size(), 2u);
  EXPECT_EQ(Get(*patients[0], DCM_PatientID), "P1");
  EXPECT_EQ(Get(*patients[0], DCM_PatientSex), "F");
  EXPECT_EQ(Get(*patients[0], DCM_NumberOfPatientRelatedStudies), "2");
  EXPECT_EQ(Get(*patients[0], DCM_NumberOfPatientRelatedInstances), "4");
}

TEST_F(FindQueryTest, BadLevelsAreRefused) {
  for (const char* level : {"", "FRAME"}) {
    DcmDataset id;
    id.putAndInsertString(DCM_QueryRetrieveLevel, level);
    EXPECT_EQ(AnswerFind(source_, QueryModel::kStudyRoot, id, "").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  DcmDataset id;
  id.putAndInsertString(DCM_QueryRetrieveLevel, "PATIENT");  // not in Study Root
  EXPECT_EQ(AnswerFind(source_, QueryModel::kStudyRoot, id, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::frontend
