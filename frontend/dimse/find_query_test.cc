#include "frontend/dimse/find_query.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

// Two patients, three studies; the second study has two series, one with two instances.
class FindQueryTest : public ::testing::Test {
 protected:
  FindQueryTest() {
    AddStudy("P1", "Doe^Jane", "S1", "20040826", {"CT"}, {{"SE1", "CT", {"I1"}}});
    AddStudy("P1", "Doe^Jane", "S2", "20100101", {"CT", "MR"},
             {{"SE2", "MR", {"I2", "I3"}}, {"SE3", "CT", {"I4"}}});
    AddStudy("P2", "Roe^Rick", "S3", "", {"US"}, {{"SE4", "US", {"I5"}}});
    source_.find = [this](const v1::FindStudiesRequest& r) {
      ++finds_;
      last_query_ = r.query();
      v1::FindStudiesResponse out;
      for (const auto& [uid, study] : studies_) {
        if (!r.query().patient_id().empty() && r.query().patient_id() != study.study().patient_id())
          continue;
        *out.mutable_page()->add_studies() = study.study();
      }
      return out;
    };
    source_.get = [this](const v1::GetStudyRequest& r) -> absl::StatusOr<v1::GetStudyResponse> {
      ++gets_;
      auto it = studies_.find(r.study_uid());
      if (it == studies_.end()) return absl::NotFoundError("no such study");
      return it->second;
    };
  }

  struct Series {
    std::string uid, modality;
    std::vector<std::string> instances;
  };
  void AddStudy(const std::string& pid, const std::string& name, const std::string& uid,
                const std::string& date, std::vector<std::string> modalities,
                std::vector<Series> series) {
    v1::GetStudyResponse s;
    v1::StudySummary& sum = *s.mutable_study();
    sum.set_study_uid(uid);
    sum.set_patient_id(pid);
    sum.set_patient_name(name);
    sum.set_study_date(date);
    for (const auto& m : modalities) sum.add_modalities(m);
    int number = 0;
    for (const Series& se : series) {
      v1::SeriesInfo& info = *s.add_series();
      info.set_series_uid(se.uid);
      info.set_modality(se.modality);
      info.set_series_number(++number);
      for (const std::string& i : se.instances) {
        v1::InstanceInfo& inst = *info.add_instances();
        inst.mutable_tags()->set_sop_instance_uid(i);
        inst.mutable_tags()->set_sop_class_uid("1.2.840.10008.5.1.4.1.1.2");
        inst.mutable_tags()->set_instance_number(info.instances_size());
        inst.mutable_tags()->set_patient_sex("F");
        inst.mutable_tags()->set_study_time("101500");
      }
      info.set_instance_count(info.instances_size());
      sum.set_instance_count(sum.instance_count() + info.instances_size());
    }
    sum.set_series_count(s.series_size());
    studies_[uid] = s;
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

  std::map<std::string, v1::GetStudyResponse> studies_;
  FindSource source_;
  int finds_ = 0, gets_ = 0;
  v1::StudyQuery last_query_;
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
  EXPECT_EQ(last_query_.patient_id(), "P1");  // narrowed in the index
  EXPECT_EQ(gets_, 0);                        // the summary was enough
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
