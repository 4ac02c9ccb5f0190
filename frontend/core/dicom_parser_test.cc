#include "frontend/core/dicom_parser.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>

#include "common/crypto.h"
#include "common/testing/file_scan.h"
#include "frontend/testing/dicom_bytes.h"

namespace medvault::frontend {
namespace {

std::string TestFile(const std::string& name) {
  return std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + name;
}

using ::medvault::testing::ReadWholeFile;

TEST(DicomParserTest, ReadsIndexAttributesOfARealCt) {
  auto tags = ParseDicomHeader(ReadWholeFile(TestFile("CT_small.dcm")));
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

absl::StatusOr<v1::InstanceTags> ParseInPieces(absl::string_view bytes, size_t piece);

// rtdose_rle.dcm labels every element UN (explicit VR): read by its dictionary VR, not as hex.
TEST(DicomParserTest, ReadsUnElementsByTheirDictionaryVr) {
  for (const char* name : {"rtdose_rle.dcm", "rtdose_rle_1frame.dcm"}) {
    const std::string bytes = ReadWholeFile(TestFile(name));
    auto tags = ParseDicomHeader(bytes);
    ASSERT_TRUE(tags.ok()) << name << ": " << tags.status();
    EXPECT_EQ(tags->sop_instance_uid(), "1.9.999.999.99.9.9999.9999.20030818153516") << name;
    EXPECT_EQ(tags->study_uid(), "1.2.999.999.99.9.9999.8888") << name;
    EXPECT_EQ(tags->patient_name(), "Lastname^Firstname") << name;
    EXPECT_EQ(tags->modality(), "RTDOSE") << name;
    // Streamed in small pieces (as a put arrives), the same.
    auto streamed = ParseInPieces(bytes, 1000);
    ASSERT_TRUE(streamed.ok()) << name << ": " << streamed.status();
    EXPECT_EQ(streamed->sop_instance_uid(), tags->sop_instance_uid()) << name;
  }
}

DcmFileFormat MinimalInstance() {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage).good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.7.1").good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1143.7.2").good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1143.7.3").good());
  return file;
}

TEST(DicomParserTest, RefusesAnIndexedValueThatIsNotTextNamingTheAttribute) {
  DcmFileFormat file = MinimalInstance();
  // PatientName written with VR OB: DCMTK keeps the file's VR, so the value is not text.
  auto* binary = new DcmOtherByteOtherWord(DcmTag(DCM_PatientName, EVR_OB));
  const Uint8 value[] = {'S', 'e', 'c', 'r', 'e', 't', 0x01, 0x02};
  ASSERT_TRUE(binary->putUint8Array(value, sizeof value).good());
  ASSERT_TRUE(file.getDataset()->insert(binary, true).good());
  auto tags = ParseDicomHeader(DicomBytes(file, 64 << 10));
  ASSERT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << tags.status();
  EXPECT_NE(tags.status().message().find("PatientName is not text"), std::string::npos)
      << tags.status();
  EXPECT_EQ(tags.status().message().find("Secret"), std::string::npos);
}

TEST(DicomParserTest, AppliesTheIndexRules) {
  DcmFileFormat bad_uid = MinimalInstance();
  ASSERT_TRUE(bad_uid.getDataset()->putAndInsertString(DCM_StudyInstanceUID, "1.2.03.4").good());
  auto tags = ParseDicomHeader(DicomBytes(bad_uid, 64 << 10));
  ASSERT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tags.status().message().find("StudyInstanceUID"), std::string::npos) << tags.status();

  DcmFileFormat long_name = MinimalInstance();
  const std::string name(60 << 10, 'N');
  ASSERT_TRUE(long_name.getDataset()->putAndInsertString(DCM_PatientName, name.c_str()).good());
  tags = ParseDicomHeader(DicomBytes(long_name, 2 << 20));
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(tags->patient_name(), std::string(64, 'N'));
}

// A value longer than the parser loads (64 KiB) is skipped, never held: an index attribute that
// long is refused by name, not indexed empty.
TEST(DicomParserTest, RefusesAnIndexAttributeTooLongToLoad) {
  DcmFileFormat long_name = MinimalInstance();
  const std::string name(1 << 20, 'N');
  ASSERT_TRUE(long_name.getDataset()->putAndInsertString(DCM_PatientName, name.c_str()).good());
  auto tags = ParseDicomHeader(DicomBytes(long_name, 2 << 20));
  ASSERT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << tags.status();
  EXPECT_NE(tags.status().message().find("PatientName is too long"), std::string::npos)
      << tags.status();
}

TEST(DicomParserTest, RefusesNonDicomAndBrokenFiles) {
  for (const char* name :
       {"README.txt", "test1.json", "zipMR.gz", "MR_truncated.dcm", "no_meta.dcm"}) {
    auto tags = ParseDicomHeader(ReadWholeFile(TestFile(name)));
    EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ParseDicomHeader("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DicomParserTest, RefusesDicomWithoutInstanceUids) {
  // A DICOMDIR is valid DICOM but not an instance: no Study/Series/SOP Instance UID.
  auto tags = ParseDicomHeader(ReadWholeFile(TestFile("dicomdirtests/DICOMDIR")));
  ASSERT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tags.status().message().find("lacks required attributes"), std::string::npos);
}

TEST(DicomParserTest, ErrorsNeverQuotePhi) {
  auto bytes = ReadWholeFile(TestFile("CT_small.dcm"));
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
    auto tags = ParseDicomHeader(ReadWholeFile(e.path().string()));
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
  std::string ct = ReadWholeFile(TestFile("CT_small.dcm"));
  for (int i = 0; i < 200; ++i) {
    std::string noise = RandomBytes(1 + i * 37).value();
    (void)ParseDicomHeader(noise);
    std::string mutated = ct.substr(0, 2048);
    std::string r = RandomBytes(8).value();
    for (int k = 0; k < 8; ++k)
      mutated[132 + (static_cast<unsigned char>(r[k]) * 7 + i * 13) % 1800] = r[k];
    (void)ParseDicomHeader(mutated);
  }
}

// Feeds `bytes` in pieces of `piece` bytes (0: one piece) and finishes.
absl::StatusOr<v1::InstanceTags> ParseInPieces(absl::string_view bytes, size_t piece) {
  DicomStreamParser parser;
  if (piece == 0) piece = bytes.size() + 1;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    absl::Status fed = parser.Feed(bytes.substr(at, piece));
    if (!fed.ok()) return fed;
  }
  return parser.Finish();
}

// DCMTK reading the whole buffer at once, end of stream set: the oracle the pieces must match.
std::optional<std::string> ReferenceSopUid(const std::string& bytes) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  OFCondition cond = file.read(stream, EXS_Unknown, EGL_noChange, 4096);
  file.transferEnd();
  if (cond.bad()) return std::nullopt;
  OFString uid;
  file.getDataset()->findAndGetOFStringArray(DCM_SOPInstanceUID, uid);
  std::string out(uid.c_str(), uid.length());
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());  // as the parser does
  return out;
}

TEST(DicomStreamParserTest, AnyPieceSizeGivesTheWholeFileResultForEveryPydicomFile) {
  int compared = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(MEDVAULT_PYDICOM_TEST_FILES)) {
    if (!e.is_regular_file()) continue;
    const std::string bytes = ReadWholeFile(e.path().string());
    auto whole = ParseInPieces(bytes, 0);
    std::optional<std::string> reference = bytes.empty() ? std::nullopt : ReferenceSopUid(bytes);
    if (reference && !reference->empty()) {
      ASSERT_TRUE(whole.ok()) << e.path() << ": " << whole.status();
      EXPECT_EQ(whole->sop_instance_uid(), *reference) << e.path();
    } else if (!reference) {
      EXPECT_FALSE(whole.ok()) << e.path();
    }
    std::vector<size_t> sizes = {7, 1000, 4096, (16 << 10) + 1, 100000};
    if (bytes.size() < (256 << 10)) sizes.push_back(1);  // a call per byte: small files only
    for (size_t piece : sizes) {
      auto pieces = ParseInPieces(bytes, piece);
      ASSERT_EQ(pieces.ok(), whole.ok())
          << e.path() << " in pieces of " << piece << ": " << pieces.status();
      if (whole.ok()) {
        EXPECT_EQ(pieces->SerializeAsString(), whole->SerializeAsString())
            << e.path() << " piece " << piece;
      } else {
        EXPECT_EQ(pieces.status().code(), absl::StatusCode::kInvalidArgument) << e.path();
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 800);
}

TEST(DicomStreamParserTest, AgreesWithDcmtkReadingTheFileFromDisk) {
  int agreed = 0;
  for (const char* name :
       {"CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "ExplVR_BigEnd.dcm"}) {
    DcmFileFormat reference;
    ASSERT_TRUE(reference.loadFile(TestFile(name).c_str()).good()) << name;
    OFString sop, study;
    reference.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
    reference.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study);
    auto tags = ParseInPieces(ReadWholeFile(TestFile(name)), 4096);
    ASSERT_TRUE(tags.ok()) << name << ": " << tags.status();
    EXPECT_EQ(tags->sop_instance_uid(), sop.c_str()) << name;
    EXPECT_EQ(tags->study_uid(), study.c_str()) << name;
    ++agreed;
  }
  EXPECT_EQ(agreed, 5);
}

// A file whose Study and Series UIDs sit `description` bytes in, behind long Patient Comments.
std::string FileWithUidsNear4KiB(size_t description = 4000) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage).good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.4242.1").good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_PatientComments, std::string(description, 'x').c_str()).good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1143.4242.2.123456789")
          .good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1143.4242.3.987654321")
          .good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_ImageComments, "after the UIDs").good());
  return DicomBytes(file, description + (64 << 10));
}

TEST(DicomStreamParserTest, UidsAppearEarlyAndAreNeverPartial) {
  const std::string bytes = FileWithUidsNear4KiB();
  ASSERT_GT(bytes.size(), 4200u);
  int early = 0;
  // Every cut point around the UIDs: what Uids() reports is complete or nothing.
  for (size_t cut = 4000; cut < bytes.size(); ++cut) {
    DicomStreamParser parser;
    ASSERT_TRUE(parser.Feed(absl::string_view(bytes).substr(0, cut)).ok()) << cut;
    std::optional<InstanceUids> uids = parser.Uids();
    if (!uids) continue;
    ++early;
    EXPECT_EQ(uids->sop_instance_uid, "1.2.826.0.1.3680043.2.1143.4242.1") << cut;
    EXPECT_EQ(uids->study_uid, "1.2.826.0.1.3680043.2.1143.4242.2.123456789") << cut;
    EXPECT_EQ(uids->series_uid, "1.2.826.0.1.3680043.2.1143.4242.3.987654321") << cut;
  }
  EXPECT_GT(early, 0);
  // A real CT fed in 1 KiB pieces: the UIDs are known long before the pixel data ends.
  const std::string ct = ReadWholeFile(TestFile("CT_small.dcm"));
  DicomStreamParser parser;
  size_t fed = 0;
  while (!parser.Uids() && fed < ct.size()) {
    ASSERT_TRUE(parser.Feed(absl::string_view(ct).substr(fed, 1024)).ok());
    fed += 1024;
  }
  ASSERT_TRUE(parser.Uids().has_value());
  EXPECT_LT(fed, ct.size() / 4);
  EXPECT_EQ(parser.Uids()->sop_instance_uid, "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322");
}

TEST(DicomStreamParserTest, UidsBeyondTheWindowAreNeverGuessedFromLaterBytes) {
  // The UIDs sit 200 KB in, past the 64 KiB the early lookup reads: it must give up for good, not
  // look again at bytes from the middle of the file, and the complete parse still finds them.
  const std::string bytes = FileWithUidsNear4KiB(200000);
  DicomStreamParser parser;
  for (size_t at = 0; at < bytes.size(); at += 5000) {
    ASSERT_TRUE(parser.Feed(absl::string_view(bytes).substr(at, 5000)).ok());
    EXPECT_FALSE(parser.Uids().has_value()) << at;
  }
  auto tags = parser.Finish();
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(tags->study_uid(), "1.2.826.0.1.3680043.2.1143.4242.2.123456789");
}

TEST(DicomStreamParserTest, ErrorsStickAndFinishIsOnce) {
  DicomStreamParser parser;
  std::string noise(64 << 10, '\xff');
  absl::Status first = parser.Feed(noise);
  absl::StatusOr<v1::InstanceTags> end = parser.Finish();
  EXPECT_EQ(end.status().code(), absl::StatusCode::kInvalidArgument);
  if (!first.ok()) {
    EXPECT_EQ(parser.Feed("more").code(), absl::StatusCode::kInvalidArgument);
  }
  DicomStreamParser fine;
  ASSERT_TRUE(fine.Feed(ReadWholeFile(TestFile("CT_small.dcm"))).ok());
  ASSERT_TRUE(fine.Finish().ok());
  EXPECT_EQ(fine.Finish().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fine.Feed("x").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace medvault::frontend
