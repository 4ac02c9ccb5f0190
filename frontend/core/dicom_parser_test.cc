#include "frontend/core/dicom_parser.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace medvault::frontend {
namespace {

std::string TestFile(const std::string& name) { return std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + name; }

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(DicomParserTest, ReadsIndexAttributesOfARealCt) {
  auto tags = ParseDicomHeader(ReadAll(TestFile("CT_small.dcm")));
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(tags->patient_id(), "1CT1");
  EXPECT_EQ(tags->patient_name(), "CompressedSamples^CT1");
  EXPECT_EQ(tags->modality(), "CT");
  EXPECT_EQ(tags->study_date(), "20040119");
  EXPECT_EQ(tags->study_uid(), "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322");
  EXPECT_EQ(tags->sop_instance_uid(), "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322");
  EXPECT_FALSE(tags->series_uid().empty());
  EXPECT_FALSE(tags->transfer_syntax_uid().empty());
}

TEST(DicomParserTest, RefusesNonDicomAndBrokenFiles) {
  for (const char* name : {"README.txt", "test1.json", "zipMR.gz", "MR_truncated.dcm", "no_meta.dcm"}) {
    auto tags = ParseDicomHeader(ReadAll(TestFile(name)));
    EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ParseDicomHeader("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DicomParserTest, RefusesDicomWithoutInstanceUids) {
  // A DICOMDIR is valid DICOM but not an instance: no Study/Series/SOP Instance UID.
  auto tags = ParseDicomHeader(ReadAll(TestFile("dicomdirtests/DICOMDIR")));
  ASSERT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tags.status().message().find("lacks required attributes"), std::string::npos);
}

TEST(DicomParserTest, ErrorsNeverQuotePhi) {
  auto bytes = ReadAll(TestFile("CT_small.dcm"));
  // Truncate in the middle of the header: whatever DCMTK says must not echo values.
  auto tags = ParseDicomHeader(absl::string_view(bytes).substr(0, 700));
  if (!tags.ok()) {
    EXPECT_EQ(std::string(tags.status().message()).find("CompressedSamples"), std::string::npos);
    EXPECT_EQ(std::string(tags.status().message()).find("1.3.6.1.4.1.5962"), std::string::npos);
  }
}

TEST(DicomParserTest, EveryPydicomTestFileParsesOrIsRefusedWithoutCrashing) {
  int parsed = 0, refused = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(MEDVAULT_PYDICOM_TEST_FILES)) {
    if (!e.is_regular_file()) continue;
    auto tags = ParseDicomHeader(ReadAll(e.path().string()));
    if (tags.ok()) {
      ++parsed;
      EXPECT_FALSE(tags->sop_instance_uid().empty());
    } else {
      ++refused;
      EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << e.path();
    }
  }
  EXPECT_GT(parsed, 100);
  EXPECT_GT(refused, 5);
}

TEST(DicomParserTest, RandomAndMutatedInputNeverCrashes) {
  std::string ct = ReadAll(TestFile("CT_small.dcm"));
  for (int i = 0; i < 200; ++i) {
    std::string noise = RandomBytes(1 + i * 37).value();
    (void)ParseDicomHeader(noise);
    std::string mutated = ct.substr(0, 2048);
    std::string r = RandomBytes(8).value();
    for (int k = 0; k < 8; ++k) mutated[132 + (static_cast<unsigned char>(r[k]) * 7 + i * 13) % 1800] = r[k];
    (void)ParseDicomHeader(mutated);
  }
}

}  // namespace
}  // namespace medvault::frontend
