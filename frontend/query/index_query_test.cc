// The index query shared by C-FIND and QIDO-RS: which searches narrow a set of keys, how rows
// match, and the walk's budget.
#include "frontend/query/index_query.h"

#include <gtest/gtest.h>

namespace medvault::frontend {
namespace {

IndexKey K(const char* keyword, const std::string& value) {
  const IndexAttribute* a = FindIndexAttributeByKeyword(keyword);
  EXPECT_NE(a, nullptr) << keyword;
  return IndexKey{a, value};
}

TEST(IndexQueryTest, ExactValuesNarrowAndWildcardsDoNot) {
  auto qs = NarrowingQueries({K("PatientID", "P1"), K("AccessionNumber", "A*"),
                              K("StudyDate", "20240101-20241231"), K("Modality", "CT")},
                             IndexLevel::kSeries);
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].patient_id(), "P1");
  EXPECT_EQ(qs[0].accession_number(), "");  // a wildcard is matched on the rows only
  EXPECT_EQ(qs[0].study_date_from(), "20240101");
  EXPECT_EQ(qs[0].study_date_to(), "20241231");
  EXPECT_EQ(qs[0].modality(), "CT");
  // ModalitiesInStudy narrows at the study level only; a single date is a one-day range.
  qs = NarrowingQueries({K("ModalitiesInStudy", "MR"), K("StudyDate", "20240105")},
                        IndexLevel::kStudy);
  EXPECT_EQ(qs[0].modality(), "MR");
  EXPECT_EQ(qs[0].study_date_to(), "20240105");
  EXPECT_EQ(NarrowingQueries({K("ModalitiesInStudy", "MR")}, IndexLevel::kSeries)[0].modality(),
            "");
  // A malformed date does not narrow; keys below the level are not used.
  qs = NarrowingQueries({K("StudyDate", "2024-"), K("SOPInstanceUID", "1.2")}, IndexLevel::kSeries);
  EXPECT_EQ(qs[0].study_date_from(), "");
  EXPECT_EQ(qs[0].sop_instance_uid(), "");
}

TEST(IndexQueryTest, UidListsFanOutAtTheMostSpecificLevel) {
  auto qs = NarrowingQueries({K("StudyInstanceUID", "1.1"), K("SeriesInstanceUID", "1.1.1\\1.1.2"),
                              K("SOPInstanceUID", "")},
                             IndexLevel::kInstance);
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[0].study_uid(), "1.1");
  EXPECT_EQ(qs[0].series_uid(), "1.1.1");
  EXPECT_EQ(qs[1].series_uid(), "1.1.2");
  // A list of studies under one series: the series narrows, the list is matched on the rows.
  qs = NarrowingQueries({K("StudyInstanceUID", "1.1\\1.2"), K("SeriesInstanceUID", "1.2.1")},
                        IndexLevel::kSeries);
  ASSERT_EQ(qs.size(), 1u);
  EXPECT_EQ(qs[0].study_uid(), "");
  EXPECT_EQ(qs[0].series_uid(), "1.2.1");
  // Repeated UIDs are searched once; "*" is universal.
  EXPECT_EQ(NarrowingQueries({K("StudyInstanceUID", "1.1\\1.1\\1.2")}, IndexLevel::kStudy).size(),
            2u);
  EXPECT_EQ(NarrowingQueries({K("StudyInstanceUID", "*")}, IndexLevel::kStudy)[0].study_uid(), "");
}

TEST(IndexQueryTest, RowsMatchEveryKey) {
  v1::StudySummary study;
  study.set_study_uid("1.1");
  study.set_patient_name("Doe^Jane");
  study.add_modalities("CT");
  study.add_modalities("SR");
  v1::SeriesInfo series;
  series.set_series_uid("1.1.1");
  series.set_modality("SR");
  series.set_series_number(3);
  const IndexRow row{&study, &series, nullptr};
  EXPECT_TRUE(RowMatches({K("PatientName", "Doe*"), K("ModalitiesInStudy", "MR\\CT")}, row));
  EXPECT_FALSE(RowMatches({K("ModalitiesInStudy", "MR")}, row));
  EXPECT_TRUE(RowMatches({K("SeriesNumber", "3"), K("SeriesInstanceUID", "1.2\\1.1.1")}, row));
  EXPECT_FALSE(RowMatches({K("SeriesDescription", "x*")}, row));  // empty never matches
  EXPECT_TRUE(RowMatches({K("StudyID", "anything")}, row));       // not indexed: not applied
  EXPECT_EQ(FindIndexAttribute("00200011")->value(row), "3");
  series.set_series_number(0);
  EXPECT_EQ(FindIndexAttribute("00200011")->value(row), "");  // absent, not "0"
}

TEST(IndexQueryTest, TheWalkStopsAtTheBudgetOrWhenTheVisitorHasEnough) {
  int pages = 0;
  IndexSource source;
  source.series = [&](const v1::FindSeriesRequest& r) {
    ++pages;
    v1::FindSeriesResponse out;
    for (int i = 0; i < 10; ++i)
      out.mutable_page()->add_rows()->mutable_series()->set_modality("CT");
    if (r.query().page_token().size() < 3) {
      out.mutable_page()->set_next_page_token(r.query().page_token() + "x");
    }
    return out;
  };
  int seen = 0;
  auto all = WalkIndex(source, IndexLevel::kSeries, {K("Modality", "CT")}, 0,
                       [&](const IndexRow&) { return ++seen > 0; });
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->complete);
  EXPECT_EQ(all->examined, 40u);
  EXPECT_EQ(pages, 4);
  pages = 0;
  auto budget =
      WalkIndex(source, IndexLevel::kSeries, {}, 20, [](const IndexRow&) { return true; });
  ASSERT_TRUE(budget.ok());
  EXPECT_FALSE(budget->complete);
  EXPECT_EQ(pages, 2);
  seen = 0;
  auto enough =
      WalkIndex(source, IndexLevel::kSeries, {}, 0, [&](const IndexRow&) { return ++seen < 5; });
  ASSERT_TRUE(enough.ok());
  EXPECT_FALSE(enough->complete);
  EXPECT_EQ(seen, 5);
}

}  // namespace
}  // namespace medvault::frontend
