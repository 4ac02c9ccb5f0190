// The header a put keeps for WADO-RS /metadata: captured from the data set the put parses, bulk
// values left out by the documented rule, turned back into the DICOM JSON DCMTK's writer makes of
// the whole file (BulkDataURI in place of the values), and the bulk values found again in the file.
#include "frontend/core/dicom_header.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcjson.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "frontend/core/dicom_parser.h"

namespace medvault::frontend {
namespace {

using ::testing::ElementsAre;

std::string ReadTestFile(const std::string& name) {
  std::ifstream in(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The header a put keeps: the file fed to the put's parser in 1000-byte pieces.
v1::InstanceHeader CaptureAsPut(const std::string& file) {
  DicomStreamParser parser;
  for (size_t at = 0; at < file.size(); at += 1000) {
    EXPECT_TRUE(parser.Feed(absl::string_view(file).substr(at, 1000)).ok());
  }
  EXPECT_TRUE(parser.Finish().ok());
  std::optional<v1::InstanceHeader> header = parser.Header();
  EXPECT_TRUE(header.has_value());
  return header.value_or(v1::InstanceHeader());
}

std::unique_ptr<DcmFileFormat> Load(const std::string& file) {
  ConfigureDcmtk();
  auto parsed = std::make_unique<DcmFileFormat>();
  DcmInputBufferStream stream;
  stream.setBuffer(file.data(), static_cast<offile_off_t>(file.size()));
  stream.setEos();
  parsed->transferInit();
  EXPECT_TRUE(parsed->read(stream).good());
  parsed->transferEnd();
  stream.releaseBuffer();
  return parsed;
}

// DCMTK's compact JSON of the whole file, with these top-level tags as "B/<tag>" bulk references.
class TopLevelBulk : public DcmJsonFormatCompact {
 public:
  explicit TopLevelBulk(std::set<DcmTagKey> bulk)
      : DcmJsonFormatCompact(OFFalse), bulk_(std::move(bulk)) {}
  OFBool asBulkDataURI(const DcmTagKey& tag, OFString& uri) override {
    if (bulk_.count(tag) == 0) return OFFalse;
    uri = absl::StrFormat("B/%04X%04X", tag.getGroup(), tag.getElement()).c_str();
    return OFTrue;
  }

 private:
  std::set<DcmTagKey> bulk_;
};

TEST(DicomHeaderTest, PutKeepsTheDataSetWithoutItsBulkValues) {
  const std::string file = ReadTestFile("CT_small.dcm");
  const v1::InstanceHeader header = CaptureAsPut(file);
  // Pixel Data and the one private OB value above 1 KiB (2068 bytes); the 80-byte one stays.
  EXPECT_THAT(header.bulk_paths(), ElementsAre("00431029", "7FE00010"));
  EXPECT_LT(header.dataset().size(), 8u << 10);
  EXPECT_GT(file.size(), 36u << 10);
}

TEST(DicomHeaderTest, JsonIsDcmtksOfTheWholeFileWithBulkDataUris) {
  const std::string file = ReadTestFile("CT_small.dcm");
  absl::StatusOr<std::string> json = HeaderToDicomJson(CaptureAsPut(file), "B");
  ASSERT_TRUE(json.ok()) << json.status();
  std::unique_ptr<DcmFileFormat> whole = Load(file);
  TopLevelBulk format({DcmTagKey(0x0043, 0x1029), DCM_PixelData});
  // As dcm2json writes it: in UTF-8, in braces.
  ASSERT_TRUE(whole->getDataset()->convertToUTF8().good());
  std::ostringstream expected;
  expected << "{";
  ASSERT_TRUE(whole->getDataset()->writeJson(expected, format).good());
  expected << "}";
  EXPECT_EQ(*json, expected.str());
  EXPECT_TRUE(absl::StrContains(*json, R"("7FE00010":{"vr":"OW","BulkDataURI":"B/7FE00010"})"));
}

TEST(DicomHeaderTest, BulkValuesInsideSequencesHaveTheirItemPaths) {
  const std::string file = ReadTestFile("waveform_ecg.dcm");
  const v1::InstanceHeader header = CaptureAsPut(file);
  EXPECT_THAT(header.bulk_paths(), ElementsAre("54000100/0/54001010", "54000100/1/54001010"));
  absl::StatusOr<std::string> json = HeaderToDicomJson(header, "https://h/x");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(absl::StrContains(*json, R"("BulkDataURI":"https://h/x/54000100/0/54001010")"));
  EXPECT_TRUE(absl::StrContains(*json, R"("BulkDataURI":"https://h/x/54000100/1/54001010")"));
  // The small private OB values stay inline.
  EXPECT_TRUE(absl::StrContains(*json, R"("14551001":{"vr":"OB","InlineBinary":")"));
}

TEST(DicomHeaderTest, EncapsulatedPixelDataIsBulkAndHeadersOfFilesMatchThePuts) {
  const std::string file = ReadTestFile("JPEG2000.dcm");
  const v1::InstanceHeader header = CaptureAsPut(file);
  EXPECT_THAT(header.bulk_paths(), ElementsAre("7FE00010"));
  absl::StatusOr<std::string> json = HeaderToDicomJson(header, "B");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(absl::StrContains(*json, R"("7FE00010":{"vr":"OB","BulkDataURI":"B/7FE00010"})"));
  // Instances stored before headers were kept: the same header from the stored file.
  absl::StatusOr<v1::InstanceHeader> from_file = CaptureHeaderFromFile(file);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->SerializeAsString(), header.SerializeAsString());
}

TEST(DicomHeaderTest, BulkValueIsTheElementsBytes) {
  const std::string ct = ReadTestFile("CT_small.dcm");
  std::unique_ptr<DcmFileFormat> whole = Load(ct);
  const Uint8* pixels = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(whole->getDataset()->findAndGetUint8Array(DCM_PixelData, pixels, &count).good());
  absl::StatusOr<std::string> value = BulkValue(ct, "7FE00010");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, std::string(reinterpret_cast<const char*>(pixels), count));

  const std::string ecg = ReadTestFile("waveform_ecg.dcm");
  absl::StatusOr<std::string> waveform = BulkValue(ecg, "54000100/1/54001010");
  ASSERT_TRUE(waveform.ok()) << waveform.status();
  EXPECT_EQ(waveform->size(), 28800u);

  absl::StatusOr<std::string> fragments = BulkValue(ReadTestFile("JPEG2000.dcm"), "7FE00010");
  ASSERT_TRUE(fragments.ok()) << fragments.status();
  EXPECT_EQ(static_cast<unsigned char>((*fragments)[0]), 0xFF);  // a JPEG 2000 codestream (SOC)
  EXPECT_EQ(static_cast<unsigned char>((*fragments)[1]), 0x4F);

  EXPECT_TRUE(absl::IsInvalidArgument(BulkValue(ct, "7FE0").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(BulkValue(ct, "54000100/0").status()));
  EXPECT_TRUE(absl::IsNotFound(BulkValue(ct, "54001010").status()));
  EXPECT_TRUE(absl::IsNotFound(BulkValue(ecg, "54000100/7/54001010").status()));
}

TEST(DicomHeaderTest, HeaderAboveTheCapIsNotKept) {
  std::unique_ptr<DcmFileFormat> ct = Load(ReadTestFile("CT_small.dcm"));
  ASSERT_TRUE(
      ct->getDataset()
          ->putAndInsertString(DCM_ImageComments, std::string(kMaxHeaderDatasetBytes, 'a').c_str())
          .good());
  absl::StatusOr<std::optional<v1::InstanceHeader>> header = CaptureHeader(ct->getDataset());
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_FALSE(header->has_value());
}

}  // namespace
}  // namespace medvault::frontend
