#include "cli/format.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace medvault::cli {
namespace {

TEST(FormatSizeTest, Units) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(1023), "1023 B");
  EXPECT_EQ(FormatSize(1024), "1.0 KB");
  EXPECT_EQ(FormatSize(543949), "531.2 KB");
  EXPECT_EQ(FormatSize(1048575), "1.0 MB");  // 1023.999 KB would round to "1024.0 KB"
  EXPECT_EQ(FormatSize(1572864), "1.5 MB");
  EXPECT_EQ(FormatSize(uint64_t{5} << 30), "5.0 GB");
  EXPECT_EQ(FormatSize(uint64_t{3} << 40), "3.0 TB");
  EXPECT_EQ(FormatSize(UINT64_MAX), "16.0 EB");
}

TEST(FormatStatusTest, CodeNameAndMessage) {
  EXPECT_EQ(FormatStatus(absl::InvalidArgumentError("not DICOM")), "INVALID_ARGUMENT: not DICOM");
  EXPECT_EQ(FormatStatus(absl::UnavailableError("")), "UNAVAILABLE");
  EXPECT_EQ(FormatError("get", absl::NotFoundError("no such instance")),
            "medvault: get: NOT_FOUND: no such instance");
}

TEST(JsonQuoteTest, Escapes) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(JsonQuote("M\xC3\xBCller"), "\"M\xC3\xBCller\"");         // valid UTF-8 kept
  EXPECT_EQ(JsonQuote("M\xFCller"), "\"M\\u00fcller\"");              // Latin-1 byte escaped
  EXPECT_EQ(JsonQuote("\xE2\x82"), "\"\\u00e2\\u0082\"");             // truncated sequence
  EXPECT_EQ(JsonQuote("\xED\xA0\x80"), "\"\\u00ed\\u00a0\\u0080\"");  // surrogate
}

std::vector<v1::StudySummary> TwoStudies() {
  std::vector<v1::StudySummary> studies(2);
  studies[0].set_study_uid("1.2.840.1");
  studies[0].set_patient_id("PAT-1");
  studies[0].set_patient_name("Doe^Jane \"JJ\"\x1b[31m");
  studies[0].set_patient_birth_date("19800101");
  studies[0].set_study_date("20240131");
  studies[0].set_study_description("MR knee \xE9");  // Latin-1
  studies[0].add_modalities("MR");
  studies[0].add_modalities("SR");
  studies[0].set_series_count(3);
  studies[0].set_instance_count(120);
  studies[0].set_total_bytes(543949);
  studies[1].set_study_uid("1.2.840.2");
  studies[1].set_patient_id("PAT-2");
  studies[1].set_total_bytes(uint64_t{1} << 40);
  return studies;
}

TEST(StudiesToJsonTest, IsValidJsonWithTheFields) {
  std::string json = StudiesToJson(TwoStudies());
  google::protobuf::Value value;
  auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  ASSERT_EQ(value.kind_case(), google::protobuf::Value::kListValue);
  ASSERT_EQ(value.list_value().values_size(), 2);
  const auto& first = value.list_value().values(0).struct_value().fields();
  EXPECT_EQ(first.at("study_uid").string_value(), "1.2.840.1");
  EXPECT_EQ(first.at("patient_id").string_value(), "PAT-1");
  EXPECT_EQ(first.at("patient_name").string_value(), "Doe^Jane \"JJ\"\x1b[31m");
  EXPECT_EQ(first.at("study_date").string_value(), "20240131");
  EXPECT_EQ(first.at("study_description").string_value(), "MR knee \xC3\xA9");
  ASSERT_EQ(first.at("modalities").list_value().values_size(), 2);
  EXPECT_EQ(first.at("modalities").list_value().values(1).string_value(), "SR");
  EXPECT_EQ(first.at("series_count").number_value(), 3);
  EXPECT_EQ(first.at("instance_count").number_value(), 120);
  EXPECT_EQ(first.at("total_bytes").number_value(), 543949);
  const auto& second = value.list_value().values(1).struct_value().fields();
  EXPECT_EQ(second.at("total_bytes").number_value(), 1099511627776.0);
  EXPECT_EQ(second.at("modalities").list_value().values_size(), 0);
}

TEST(StudiesToJsonTest, ListsTheStudysDocumentsWithTheirMediaType) {
  std::vector<v1::StudySummary> studies = TwoStudies();
  v1::StudyDocument* doc = studies[0].add_documents();
  doc->set_sop_instance_uid("1.2.840.1.9");
  doc->set_mime_type("text/plain");
  doc->set_size(1234);
  const std::string json = StudiesToJson(studies);
  EXPECT_NE(json.find("\"documents\": [{\"sop_instance_uid\": \"1.2.840.1.9\", \"mime_type\": "
                      "\"text/plain\", \"size\": 1234}]"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"documents\": []"), std::string::npos) << json;  // the second study
  google::protobuf::Value parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  const std::string table = StudiesTable(studies);
  EXPECT_NE(table.find("\ndocument  1.2.840.1  text/plain  1.2 KB  1.2.840.1.9\n"),
            std::string::npos)
      << table;
  EXPECT_EQ(DocumentLines({TwoStudies()[1]}), "");
}

TEST(StudiesToJsonTest, EmptyIsEmptyArray) { EXPECT_EQ(StudiesToJson({}), "[]\n"); }

TEST(StudiesTableTest, AlignedRowsWithoutControlCharacters) {
  std::string table = StudiesTable(TwoStudies());
  EXPECT_EQ(table.find('\x1b'), std::string::npos);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = table.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(table.substr(start, nl - start));
  }
  ASSERT_EQ(lines.size(), 3u) << table;
  EXPECT_EQ(lines[0].rfind("DATE", 0), 0u);
  EXPECT_NE(lines[1].find("2024-01-31"), std::string::npos);
  EXPECT_NE(lines[1].find("PAT-1"), std::string::npos);
  EXPECT_NE(lines[1].find("MR,SR"), std::string::npos);
  EXPECT_NE(lines[1].find("531.2 KB"), std::string::npos);
  EXPECT_NE(lines[1].find("120"), std::string::npos);
  EXPECT_NE(lines[2].find("1.0 TB"), std::string::npos);
  // The study UID column starts at the same place on every line.
  EXPECT_EQ(lines[0].find("STUDY UID"), lines[1].find("1.2.840.1"));
  EXPECT_EQ(lines[1].find("1.2.840.1"), lines[2].find("1.2.840.2"));
  EXPECT_EQ(StudiesTable({}), "");
}

TEST(StudiesTableTest, OneLongNameDoesNotPadEveryRow) {
  std::vector<v1::StudySummary> studies = TwoStudies();
  studies[0].set_patient_name(std::string(100000, 'N'));
  const std::string table = StudiesTable(studies);
  const std::string short_row = table.substr(table.rfind('\n', table.size() - 2) + 1);
  EXPECT_LT(short_row.size(), 250u) << short_row;
  EXPECT_NE(table.find(std::string(100000, 'N')), std::string::npos);  // shown whole
}

}  // namespace
}  // namespace medvault::cli
