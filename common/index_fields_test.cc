#include "common/index_fields.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"

namespace medvault {
namespace {

v1::InstanceTags ValidTags() {
  v1::InstanceTags t;
  t.set_study_uid("1.2.840.113619.2.1");
  t.set_series_uid("1.2.840.113619.2.1.2");
  t.set_sop_instance_uid("1.2.840.113619.2.1.2.3");
  t.set_sop_class_uid("1.2.840.10008.5.1.4.1.1.2");
  t.set_transfer_syntax_uid("1.2.840.10008.1.2.1");
  t.set_patient_id("PID-1");
  t.set_patient_name("Doe^Jane");
  t.set_study_date("20200102");
  t.set_modality("CT");
  return t;
}

TEST(UidTest, FollowsPs35Section91) {
  for (const char* ok :
       {"0", "1.2.3", "1.0.3", "2.25.123456789012345678901234567890", "1.2.840.10008.1.2.1"}) {
    EXPECT_TRUE(IsValidUid(ok)) << ok;
  }
  for (const char* bad : {"", "../x", "a/b", "1.2.3.abc def\x01", "1.02.3", "1..2", ".1.2", "1.2.",
                          "1.2 .3", "01", "1.2.-3", "31\\2e\\32"}) {
    EXPECT_FALSE(IsValidUid(bad)) << bad;
  }
  EXPECT_TRUE(IsValidUid(std::string(32, '1') + "." + std::string(31, '2')));   // 64
  EXPECT_FALSE(IsValidUid(std::string(32, '1') + "." + std::string(32, '2')));  // 65
}

TEST(UidTest, RequestsLosePaddingAndErrorsNameTheAttributeNotTheValue) {
  EXPECT_EQ(*RequestUid(std::string("1.2.3\0", 6), "SOPInstanceUID"), "1.2.3");
  EXPECT_EQ(*RequestUid("1.2.3 ", "SOPInstanceUID"), "1.2.3");
  absl::StatusOr<std::string> bad = RequestUid("1.2.999secret", "StudyInstanceUID");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "StudyInstanceUID"));
  EXPECT_FALSE(absl::StrContains(bad.status().message(), "secret"));
  EXPECT_EQ(RequestUid("", "StudyInstanceUID").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IndexRulesTest, ValidTagsPassUnchanged) {
  v1::InstanceTags t = ValidTags();
  ASSERT_TRUE(ApplyIndexRules(&t).ok());
  EXPECT_EQ(t.SerializeAsString(), ValidTags().SerializeAsString());
  EXPECT_TRUE(FindIndexViolations(t).empty());
}

TEST(IndexRulesTest, BadUidsAreRefusedByAttribute) {
  for (auto set : {+[](v1::InstanceTags* t) { t->set_study_uid("../x"); },
                   +[](v1::InstanceTags* t) { t->set_series_uid("31\\2e\\32\\2e\\39"); },
                   +[](v1::InstanceTags* t) { t->set_sop_instance_uid(std::string(65, '1')); },
                   +[](v1::InstanceTags* t) { t->set_sop_class_uid("1.2.abc"); },
                   +[](v1::InstanceTags* t) { t->clear_sop_instance_uid(); }}) {
    v1::InstanceTags t = ValidTags();
    set(&t);
    absl::Status s = ApplyIndexRules(&t);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(s.message(), "UID")) << s;
    EXPECT_FALSE(FindIndexViolations(t).empty());
  }
}

TEST(IndexRulesTest, SearchedFieldsOverTheirVrLengthAreRefusedDisplayedOnesTruncated) {
  v1::InstanceTags t = ValidTags();
  t.set_patient_id(std::string(65, 'P'));
  absl::Status s = ApplyIndexRules(&t);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "PatientID")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "PPPP")) << s;

  t = ValidTags();
  t.set_modality(std::string(17, 'M'));
  EXPECT_TRUE(absl::StrContains(ApplyIndexRules(&t).message(), "Modality"));

  t = ValidTags();
  t.set_patient_name(std::string(4 << 20, 'N') + "=" + std::string(70, 'I') + "=x");
  t.set_study_description(std::string(1000, 'D'));
  t.set_accession_number(std::string(20, 'A'));
  t.set_study_time("120000.000000000000");
  const v1::InstanceTags before = t;
  ASSERT_TRUE(ApplyIndexRules(&t).ok());
  EXPECT_EQ(t.patient_name(), std::string(64, 'N') + "=" + std::string(64, 'I') + "=x");
  EXPECT_EQ(t.study_description(), std::string(64, 'D'));
  EXPECT_EQ(t.accession_number(), std::string(16, 'A'));
  EXPECT_EQ(t.study_time().size(), 16u);
  EXPECT_EQ(FindIndexViolations(before).size(), 4u);
  EXPECT_TRUE(FindIndexViolations(t).empty());
}

TEST(IndexRulesTest, LengthsCountUtf8CharactersAndNeverSplitOne) {
  v1::InstanceTags t = ValidTags();
  std::string name;
  for (int i = 0; i < 70; ++i) name += "\xC3\xA9";  // é
  t.set_patient_name(name);
  ASSERT_TRUE(ApplyIndexRules(&t).ok());
  EXPECT_EQ(t.patient_name(), name.substr(0, 128));
}

TEST(IndexRulesTest, ControlCharactersAreNotText) {
  v1::InstanceTags t = ValidTags();
  t.set_patient_name("Doe\x01Jane");
  absl::Status s = ApplyIndexRules(&t);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "PatientName is not text")) << s;
  t = ValidTags();
  t.set_patient_name("\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B");  // ISO 2022 escapes are text
  EXPECT_TRUE(ApplyIndexRules(&t).ok());
}

TEST(IndexRulesTest, AcrNemaDatesAreIndexedInDicomForm) {
  v1::InstanceTags t = ValidTags();
  t.set_study_date("1997.04.24");
  ASSERT_TRUE(ApplyIndexRules(&t).ok());
  EXPECT_EQ(t.study_date(), "19970424");
  t.set_study_date("1997-04-24x");
  EXPECT_TRUE(absl::StrContains(ApplyIndexRules(&t).message(), "StudyDate"));
}

TEST(IndexRulesTest, FsckSeesHexDumpsOfUnValues) {
  v1::InstanceTags t = ValidTags();
  t.set_patient_name("4c\\61\\73\\74");
  std::vector<IndexViolation> v = FindIndexViolations(t);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].attribute, "PatientName");
  EXPECT_TRUE(absl::StrContains(v[0].rule, "hex")) << v[0].rule;
  EXPECT_FALSE(LooksLikeHexDump("CT\\MR"));
  EXPECT_FALSE(LooksLikeHexDump("12"));
}

}  // namespace
}  // namespace medvault
