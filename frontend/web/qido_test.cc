// AnswerQido over a fake index: which searches the index is asked for (exact values narrow it),
// PS3.4 C.2.2.2 matching of the rows, the returned attributes and their DICOM JSON, paging.
#include "frontend/web/qido.h"

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace medvault::frontend::web {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::InstanceRow MakeRow(const std::string& study, const std::string& series, const std::string& sop,
                        const std::string& patient, const std::string& name,
                        const std::string& date, const std::string& modality, int number) {
  v1::InstanceRow r;
  v1::StudySummary& s = *r.mutable_study();
  s.set_study_uid(study);
  s.set_patient_id(patient);
  s.set_patient_name(name);
  s.set_study_date(date);
  s.set_accession_number("ACC-" + patient);
  s.add_modalities(modality);
  s.set_series_count(1);
  s.set_instance_count(2);
  r.mutable_series()->set_series_uid(series);
  r.mutable_series()->set_modality(modality);
  r.mutable_series()->set_series_number(7);
  r.mutable_series()->set_instance_count(2);
  v1::InstanceTags& t = *r.mutable_instance()->mutable_tags();
  t.set_study_uid(study);
  t.set_series_uid(series);
  t.set_sop_instance_uid(sop);
  t.set_sop_class_uid("1.2.840.10008.5.1.4.1.1.2");
  t.set_instance_number(number);
  t.set_rows(512);
  return r;
}

class QidoTest : public ::testing::Test {
 protected:
  QidoTest() {
    rows_ = {MakeRow("1.1", "1.1.1", "1.1.1.1", "PAT1", "Doe^Jane", "20240105", "CT", 1),
             MakeRow("1.1", "1.1.1", "1.1.1.2", "PAT1", "Doe^Jane", "20240105", "CT", 2),
             MakeRow("1.2", "1.2.1", "1.2.1.1", "PAT2", "Roe^Richard", "20240301", "MR", 1)};
    // Pages of one row each, so every answer crosses pages.
    source_.studies = [this](const v1::FindStudiesRequest& r) {
      studies_asked_.push_back(r.query());
      v1::FindStudiesResponse out;
      std::vector<const v1::StudySummary*> studies;
      for (const auto& row : rows_) {
        if (!studies.empty() && studies.back()->study_uid() == row.study().study_uid()) continue;
        studies.push_back(&row.study());
      }
      size_t at = r.query().page_token().empty() ? 0 : std::stoul(r.query().page_token());
      for (; at < studies.size(); ++at) {
        const auto& s = *studies[at];
        if (!r.query().patient_id().empty() && s.patient_id() != r.query().patient_id()) continue;
        *out.mutable_page()->add_studies() = s;
        if (at + 1 < studies.size()) out.mutable_page()->set_next_page_token(absl::StrCat(at + 1));
        break;
      }
      return out;
    };
    source_.series = [this](const v1::FindSeriesRequest& r) {
      level_asked_.push_back(r.query());
      v1::FindSeriesResponse out;
      std::string last;
      for (const auto& row : rows_) {
        if (row.series().series_uid() == last) continue;
        last = row.series().series_uid();
        if (!Narrowed(r.query(), row)) continue;
        v1::SeriesRow* s = out.mutable_page()->add_rows();
        *s->mutable_study() = row.study();
        *s->mutable_series() = row.series();
      }
      return out;
    };
    source_.instances = [this](const v1::FindInstancesRequest& r) {
      level_asked_.push_back(r.query());
      v1::FindInstancesResponse out;
      size_t at = r.query().page_token().empty() ? 0 : std::stoul(r.query().page_token());
      for (; at < rows_.size(); ++at) {
        if (!Narrowed(r.query(), rows_[at])) continue;
        *out.mutable_page()->add_rows() = rows_[at];
        if (at + 1 < rows_.size()) out.mutable_page()->set_next_page_token(absl::StrCat(at + 1));
        break;
      }
      return out;
    };
  }

  static bool Narrowed(const v1::LevelQuery& q, const v1::InstanceRow& row) {
    return (q.study_uid().empty() || q.study_uid() == row.study().study_uid()) &&
           (q.series_uid().empty() || q.series_uid() == row.series().series_uid()) &&
           (q.sop_instance_uid().empty() ||
            q.sop_instance_uid() == row.instance().tags().sop_instance_uid()) &&
           (q.modality().empty() || q.modality() == row.series().modality());
  }

  std::string Json(QidoLevel level, std::vector<std::pair<std::string, std::string>> params,
                   const std::string& study = "", const std::string& series = "") {
    QidoRequest r;
    r.level = level;
    r.study_uid = study;
    r.series_uid = series;
    r.params = std::move(params);
    r.base_url = "https://h:1/dicomweb";
    absl::StatusOr<QidoAnswer> a = AnswerQido(source_, r);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? a->json : "";
  }

  static size_t Count(const std::string& json, const std::string& what) {
    size_t n = 0;
    for (size_t p = json.find(what); p != std::string::npos; p = json.find(what, p + 1)) ++n;
    return n;
  }

  std::vector<v1::InstanceRow> rows_;
  QidoSource source_;
  std::vector<v1::StudyQuery> studies_asked_;
  std::vector<v1::LevelQuery> level_asked_;
};

TEST_F(QidoTest, StudiesMatchWildcardsRangesAndListsInDicomJson) {
  std::string json = Json(QidoLevel::kStudy, {{"PatientName", "Doe*"}});
  EXPECT_EQ(Count(json, "\"0020000D\""), 1u) << json;
  EXPECT_THAT(json,
              HasSubstr("\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Doe^Jane\"}]}"));
  EXPECT_THAT(json, HasSubstr("\"00201208\":{\"vr\":\"IS\",\"Value\":[2]}"));
  EXPECT_THAT(json, HasSubstr("\"00080090\":{\"vr\":\"PN\"}"));  // not held: empty
  EXPECT_THAT(
      json,
      HasSubstr("\"00081190\":{\"vr\":\"UR\",\"Value\":[\"https://h:1/dicomweb/studies/1.1\"]}"));
  EXPECT_THAT(Json(QidoLevel::kStudy, {{"PatientName", "?oe^Jan?"}}), HasSubstr("\"1.1\""));
  EXPECT_EQ(Json(QidoLevel::kStudy, {{"PatientName", "Doe"}}), "[]");
  json = Json(QidoLevel::kStudy, {{"StudyDate", "20240201-"}});
  EXPECT_THAT(json, HasSubstr("\"1.2\""));
  EXPECT_THAT(json, Not(HasSubstr("\"1.1\"")));
  ASSERT_FALSE(studies_asked_.empty());
  EXPECT_EQ(studies_asked_.back().study_date_from(), "20240201");  // narrowed in the index
  EXPECT_EQ(studies_asked_.back().study_date_to(), "");
  EXPECT_EQ(Count(Json(QidoLevel::kStudy, {{"StudyInstanceUID", "1.2,1.1"}}), "\"0020000D\""), 2u);
  EXPECT_EQ(Count(Json(QidoLevel::kStudy, {{"ModalitiesInStudy", "MR\\US"}}), "\"0020000D\""), 1u);
  EXPECT_EQ(Count(Json(QidoLevel::kStudy, {{"00100020", "PAT2"}}), "\"0020000D\""), 1u);
  EXPECT_EQ(studies_asked_.back().patient_id(), "PAT2");
  // A single study UID reads that study only, through the series index.
  json = Json(QidoLevel::kStudy, {{"StudyInstanceUID", "1.2"}});
  EXPECT_EQ(Count(json, "\"0020000D\""), 1u);
  EXPECT_EQ(level_asked_.back().study_uid(), "1.2");
}

TEST_F(QidoTest, LimitOffsetAndIncludeField) {
  const std::string all = Json(QidoLevel::kStudy, {});
  EXPECT_EQ(Count(all, "\"0020000D\""), 2u);
  EXPECT_EQ(Count(Json(QidoLevel::kStudy, {{"limit", "1"}}), "\"0020000D\""), 1u);
  const std::string second = Json(QidoLevel::kStudy, {{"offset", "1"}});
  EXPECT_THAT(second, HasSubstr("\"1.2\""));
  EXPECT_THAT(second, Not(HasSubstr("\"1.1\"")));
  EXPECT_EQ(Json(QidoLevel::kStudy, {{"offset", "2"}}), "[]");
  // Series level inside a study: no study attributes unless asked for.
  std::string json = Json(QidoLevel::kSeries, {}, "1.1");
  EXPECT_THAT(json, HasSubstr("\"00080060\":{\"vr\":\"CS\",\"Value\":[\"CT\"]}"));
  EXPECT_THAT(json, Not(HasSubstr("\"00100010\"")));
  json = Json(QidoLevel::kSeries, {{"includefield", "PatientName,00080020"}}, "1.1");
  EXPECT_THAT(json, HasSubstr("\"00100010\""));
  EXPECT_THAT(json, HasSubstr("\"00080020\""));
  json = Json(QidoLevel::kSeries, {{"includefield", "all"}}, "1.1");
  EXPECT_THAT(json, HasSubstr("\"00100020\""));
  EXPECT_THAT(json, Not(HasSubstr("\"00080018\"")));  // below the level
  // All series: study attributes by default.
  EXPECT_THAT(Json(QidoLevel::kSeries, {}), HasSubstr("\"00100010\""));
}

TEST_F(QidoTest, SeriesAndInstancesNarrowTheIndexAndMatchRows) {
  std::string json = Json(QidoLevel::kSeries, {{"Modality", "MR"}});
  EXPECT_EQ(Count(json, "\"0020000E\""), 1u);
  EXPECT_EQ(level_asked_.back().modality(), "MR");
  json = Json(QidoLevel::kSeries, {{"Modality", "M?"}});  // wildcard: matched on the rows
  EXPECT_EQ(Count(json, "\"0020000E\""), 1u);
  EXPECT_EQ(level_asked_.back().modality(), "");
  json = Json(QidoLevel::kInstance, {}, "1.1", "1.1.1");
  EXPECT_EQ(Count(json, "\"00080018\""), 2u);
  EXPECT_EQ(level_asked_.back().series_uid(), "1.1.1");
  EXPECT_THAT(json, HasSubstr("\"00280010\":{\"vr\":\"US\",\"Value\":[512]}"));
  EXPECT_THAT(json, HasSubstr("\"00200013\":{\"vr\":\"IS\",\"Value\":[2]}"));
  EXPECT_THAT(json, HasSubstr("/studies/1.1/series/1.1.1/instances/1.1.1.2\""));
  json = Json(QidoLevel::kInstance, {{"InstanceNumber", "2"}}, "1.1", "1.1.1");
  EXPECT_EQ(Count(json, "\"00080018\""), 1u);
  level_asked_.clear();
  json = Json(QidoLevel::kInstance, {{"SOPInstanceUID", "1.1.1.1,1.2.1.1"}, {"limit", "5"}});
  EXPECT_EQ(Count(json, "\"00080018\""), 2u);
  std::set<std::string> asked;  // one instance search per UID listed
  for (const v1::LevelQuery& q : level_asked_) asked.insert(q.sop_instance_uid());
  EXPECT_EQ(asked, (std::set<std::string>{"1.1.1.1", "1.2.1.1"}));
  EXPECT_THAT(json, HasSubstr("\"00100020\""));  // all instances: study and series attributes
  EXPECT_THAT(json, HasSubstr("\"00080060\""));
  json = Json(QidoLevel::kInstance, {{"SOPClassUID", "1.2.840.10008.5.1.4.1.1.4"}});
  EXPECT_EQ(json, "[]");
}

TEST_F(QidoTest, BadParametersAreRefusedAndUnheldKeysIgnored) {
  QidoRequest r;
  r.params = {{"limit", "ten"}};
  EXPECT_TRUE(absl::IsInvalidArgument(AnswerQido(source_, r).status()));
  r.params = {{"NotAnAttribute", "x"}};
  EXPECT_TRUE(absl::IsInvalidArgument(AnswerQido(source_, r).status()));
  r.params = {{"includefield", "Nope"}};
  EXPECT_TRUE(absl::IsInvalidArgument(AnswerQido(source_, r).status()));
  r.params = {{"ReferringPhysicianName", "X*"}, {"PatientWeight", "70"}};
  absl::StatusOr<QidoAnswer> a = AnswerQido(source_, r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ignored, (std::vector<std::string>{"00080090", "00101030"}));
  EXPECT_EQ(Count(a->json, "\"0020000D\""), 2u);
}

}  // namespace
}  // namespace medvault::frontend::web
