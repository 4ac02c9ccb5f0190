// The parser skips long values (Pixel Data, its fragments) instead of loading them: what it reads
// before, between and after them is unchanged, whatever the piece sizes.
#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>

#include <malloc.h>

#include <algorithm>
#include <vector>

#include "frontend/core/dicom_header.h"
#include "frontend/core/dicom_parser.h"
#include "frontend/testing/dicom_bytes.h"

namespace medvault::frontend {
namespace {

void AddUids(DcmDataset* ds) {
  ASSERT_TRUE(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage).good());
  ASSERT_TRUE(ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.7.1").good());
  ASSERT_TRUE(
      ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1143.7.2").good());
  ASSERT_TRUE(
      ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1143.7.3").good());
  ASSERT_TRUE(ds->putAndInsertString(DCM_PatientName, "Large^Value").good());
  ASSERT_TRUE(ds->putAndInsertUint16(DCM_Rows, 1024).good());
  ASSERT_TRUE(ds->putAndInsertUint16(DCM_Columns, 2048).good());
  ASSERT_TRUE(ds->putAndInsertUint16(DCM_BitsAllocated, 16).good());
}

// An element after Pixel Data, small enough to stay in the header.
void AddTrailer(DcmDataset* ds) {
  const Uint8 padding[16] = {};
  ASSERT_TRUE(ds->putAndInsertUint8Array(DCM_DataSetTrailingPadding, padding, 16).good());
}

std::string NativeInstance() {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  AddUids(ds);
  std::vector<Uint16> pixels(1024 * 2048);  // 4 MiB
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<Uint16>(i * 7);
  EXPECT_TRUE(ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), pixels.size()).good());
  AddTrailer(ds);
  return DicomBytes(file, 5 << 20);
}

// NativeInstance's data set, deflated (Deflated Explicit VR Little Endian); `trailer`: with an
// element after Pixel Data.
std::string DeflatedInstance(bool trailer) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  AddUids(ds);
  std::vector<Uint16> pixels(1024 * 2048);
  uint32_t x = 16;
  for (Uint16& p : pixels) p = static_cast<Uint16>((x = x * 1664525u + 1013904223u) >> 16);
  EXPECT_TRUE(ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), pixels.size()).good());
  if (trailer) AddTrailer(ds);
  return DicomBytes(file, 6 << 20, EXS_DeflatedLittleEndianExplicit);
}

std::string EncapsulatedInstance() {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  AddUids(ds);
  auto* pixel_data = new DcmPixelData(DCM_PixelData);
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  sequence->insert(new DcmPixelItem(DCM_PixelItemTag));   // empty Basic Offset Table
  for (size_t size : {300000u, 200002u, 100u, 70000u}) {  // above and below the skip threshold
    auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
    std::vector<Uint8> bytes(size, static_cast<Uint8>(size));
    EXPECT_TRUE(fragment->putUint8Array(bytes.data(), size).good());
    sequence->insert(fragment);
  }
  pixel_data->putOriginalRepresentation(EXS_JPEGProcess1, nullptr, sequence);
  EXPECT_TRUE(ds->insert(pixel_data).good());
  AddTrailer(ds);
  return DicomBytes(file, 1 << 20, EXS_JPEGProcess1);
}

absl::StatusOr<v1::InstanceTags> Parse(absl::string_view bytes, size_t piece,
                                       std::optional<v1::InstanceHeader>* header = nullptr) {
  DicomStreamParser parser;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (absl::Status s = parser.Feed(bytes.substr(at, piece)); !s.ok()) return s;
  }
  absl::StatusOr<v1::InstanceTags> tags = parser.Finish();
  if (header != nullptr) *header = parser.Header();
  return tags;
}

void ExpectWholeResult(const std::string& bytes) {
  for (size_t piece : {bytes.size(), size_t{1} << 16, size_t{65537}, size_t{4099}, size_t{997}}) {
    std::optional<v1::InstanceHeader> header;
    auto tags = Parse(bytes, piece, &header);
    ASSERT_TRUE(tags.ok()) << piece << ": " << tags.status();
    EXPECT_EQ(tags->sop_instance_uid(), "1.2.826.0.1.3680043.2.1143.7.1") << piece;
    EXPECT_EQ(tags->patient_name(), "Large^Value") << piece;
    EXPECT_EQ(tags->rows(), 1024) << piece;
    EXPECT_EQ(tags->columns(), 2048) << piece;
    ASSERT_TRUE(header.has_value()) << piece;
    EXPECT_LT(header->dataset().size(), kMaxHeaderDatasetBytes) << piece;
    EXPECT_NE(std::find(header->bulk_paths().begin(), header->bulk_paths().end(), "7FE00010"),
              header->bulk_paths().end())
        << piece;
    // The element after Pixel Data was read, and is in the header.
    auto json = HeaderToDicomJson(*header, "base");
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_NE(json->find("\"FFFCFFFC\""), std::string::npos) << piece;
  }
}

TEST(DicomStreamParserLargeTest, NativePixelDataIsSkippedAndWhatFollowsIsRead) {
  ExpectWholeResult(NativeInstance());
}

TEST(DicomStreamParserLargeTest, EncapsulatedFragmentsAreSkippedAndWhatFollowsIsRead) {
  ExpectWholeResult(EncapsulatedInstance());
}

TEST(DicomStreamParserLargeTest, AFileEndingWithASkippedValueIsComplete) {
  DcmFileFormat file;
  AddUids(file.getDataset());
  std::vector<Uint8> pixels(1 << 20, 0x5a);
  ASSERT_TRUE(file.getDataset()
                  ->putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size())
                  .good());
  const std::string bytes = DicomBytes(file, 2 << 20);
  for (size_t piece : {bytes.size(), size_t{1} << 16, size_t{4099}}) {
    auto tags = Parse(bytes, piece);
    ASSERT_TRUE(tags.ok()) << piece << ": " << tags.status();
  }
}

TEST(DicomStreamParserLargeTest, AFileCutInsideASkippedValueIsRefused) {
  for (const std::string& bytes : {NativeInstance(), EncapsulatedInstance()}) {
    for (size_t cut : {size_t{100000}, size_t{250000}, bytes.size() - 200}) {
      for (size_t piece : {size_t{1} << 16, size_t{4099}}) {
        auto tags = Parse(absl::string_view(bytes).substr(0, cut), piece);
        EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument)
            << cut << " " << piece << ": " << tags.status();
      }
    }
  }
}

// A non-bulk value too long to load: the instance is indexed, its header is not kept (it would
// exceed kMaxHeaderDatasetBytes anyway) rather than kept with the value emptied.
TEST(DicomStreamParserLargeTest, ALongNonBulkValueLeavesNoHeader) {
  DcmFileFormat file;
  AddUids(file.getDataset());
  const std::string comments(100000, 'c');
  ASSERT_TRUE(file.getDataset()->putAndInsertString(DCM_ImageComments, comments.c_str()).good());
  std::optional<v1::InstanceHeader> header;
  auto tags = Parse(DicomBytes(file, 1 << 20), 4099, &header);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_FALSE(header.has_value());
}

// What the process's heap holds now (glibc: arenas and mmapped blocks).
size_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Parses `bytes` in `piece`-byte pieces and returns the most the heap grew while it did (the
// parser's own memory: the input is allocated before).
size_t ParserPeakBytes(absl::string_view bytes, size_t piece,
                       absl::StatusOr<v1::InstanceTags>* tags) {
  const size_t base = HeapBytes();
  size_t peak = 0;
  auto sample = [&] { peak = std::max(peak, std::max(HeapBytes(), base) - base); };
  DicomStreamParser parser;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    absl::Status s = parser.Feed(bytes.substr(at, piece));
    sample();
    if (!s.ok()) {
      *tags = s;
      return peak;
    }
  }
  *tags = parser.Finish();
  sample();
  return peak;
}

// A whole-slide image or a long cine: encapsulated Pixel Data of many fragments, each short enough
// to be loaded. The parser drops each one once read, so it never holds the Pixel Data.
TEST(DicomStreamParserLargeTest, ManySmallFragmentsAreNotHeld) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  AddUids(ds);
  auto* pixel_data = new DcmPixelData(DCM_PixelData);
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  sequence->insert(new DcmPixelItem(DCM_PixelItemTag));
  constexpr size_t kFragments = 1536, kFragmentBytes = 32 << 10;  // 48 MiB
  std::vector<Uint8> tile(kFragmentBytes);
  for (size_t f = 0; f < kFragments; ++f) {
    std::fill(tile.begin(), tile.end(), static_cast<Uint8>(f));
    auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
    ASSERT_TRUE(fragment->putUint8Array(tile.data(), tile.size()).good());
    sequence->insert(fragment);
  }
  pixel_data->putOriginalRepresentation(EXS_JPEGProcess1, nullptr, sequence);
  ASSERT_TRUE(ds->insert(pixel_data).good());
  AddTrailer(ds);
  const std::string bytes = DicomBytes(file, 50 << 20, EXS_JPEGProcess1);
  file.clear();
  for (size_t piece : {size_t{1} << 20, size_t{65537}}) {
    absl::StatusOr<v1::InstanceTags> tags;
    const size_t peak = ParserPeakBytes(bytes, piece, &tags);
    ASSERT_TRUE(tags.ok()) << piece << ": " << tags.status();
    EXPECT_EQ(tags->sop_instance_uid(), "1.2.826.0.1.3680043.2.1143.7.1");
    EXPECT_LT(peak, 8u << 20) << piece << ": the parser held " << peak << " bytes of a "
                              << bytes.size() << "-byte file";
  }
  ExpectWholeResult(bytes);  // what follows Pixel Data is still read; the header is kept
  // A file cut between fragments is still refused.
  auto cut = Parse(absl::string_view(bytes).substr(0, bytes.size() / 2), 65537);
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kInvalidArgument) << cut.status();
}

// A deflated data set: DCMTK inflates it as it arrives, and what it skips of a long value before
// the rest has arrived is skipped later; the parser never holds the 4 MiB of Pixel Data.
TEST(DicomStreamParserLargeTest, DeflatedPixelDataIsSkippedAndNotHeld) {
  const std::string bytes = DeflatedInstance(/*trailer=*/true);
  ExpectWholeResult(bytes);
  for (size_t piece : {size_t{4099}, size_t{65537}}) {
    absl::StatusOr<v1::InstanceTags> tags;
    const size_t peak = ParserPeakBytes(bytes, piece, &tags);
    ASSERT_TRUE(tags.ok()) << piece << ": " << tags.status();
    EXPECT_LT(peak, 2u << 20) << piece << ": held " << peak << " bytes";
  }
  const std::string last = DeflatedInstance(/*trailer=*/false);  // ends inside Pixel Data
  for (size_t piece : {last.size(), size_t{4099}, size_t{65537}}) {
    auto tags = Parse(last, piece);
    EXPECT_TRUE(tags.ok()) << piece << ": " << tags.status();
    for (size_t cut : {last.size() / 2, last.size() - 100}) {
      auto cut_tags = Parse(absl::string_view(last).substr(0, cut), piece);
      EXPECT_EQ(cut_tags.status().code(), absl::StatusCode::kInvalidArgument)
          << cut << " " << piece << ": " << cut_tags.status();
    }
  }
}

// An Encapsulated PDF or CDA document is checked by its first bytes, however long it is, and is
// skipped like any long value: the parser's memory does not grow with it.
TEST(DicomStreamParserLargeTest, ALongEncapsulatedDocumentIsCheckedByItsStartAndNotHeld) {
  struct Case {
    const char* sop_class;
    const char* mime;
    std::string start;
    const char* refusal;  // nullptr: accepted
  };
  const Case cases[] = {
      {UID_EncapsulatedPDFStorage, "application/pdf", "%PDF-1.7\n", nullptr},
      {UID_EncapsulatedPDFStorage, "application/pdf", "not a pdf\n", "is not a PDF"},
      {UID_EncapsulatedCDAStorage, "text/XML",
       "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">",
       nullptr},
      {UID_EncapsulatedCDAStorage, "text/XML", "<?xml version=\"1.0\"?>\n<Other>",
       "is not an HL7 CDA document"},
  };
  for (const Case& c : cases) {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    AddUids(ds);
    ASSERT_TRUE(ds->putAndInsertString(DCM_SOPClassUID, c.sop_class).good());
    ASSERT_TRUE(ds->putAndInsertString(DCM_MIMETypeOfEncapsulatedDocument, c.mime).good());
    std::string document(24 << 20, ' ');
    document.replace(0, c.start.size(), c.start);
    ASSERT_TRUE(ds->putAndInsertUint8Array(DCM_EncapsulatedDocument,
                                           reinterpret_cast<const Uint8*>(document.data()),
                                           document.size())
                    .good());
    ASSERT_TRUE(ds->putAndInsertUint32(DCM_EncapsulatedDocumentLength, document.size()).good());
    document.clear();
    document.shrink_to_fit();
    const std::string bytes = DicomBytes(file, 26 << 20);
    file.clear();
    for (size_t piece : {size_t{4099}, size_t{1} << 20}) {
      absl::StatusOr<v1::InstanceTags> tags;
      const size_t peak = ParserPeakBytes(bytes, piece, &tags);
      EXPECT_LT(peak, 4u << 20) << c.start << " " << piece << ": held " << peak << " bytes";
      if (c.refusal == nullptr) {
        EXPECT_TRUE(tags.ok()) << c.start << " " << piece << ": " << tags.status();
      } else {
        EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << tags.status();
        EXPECT_NE(tags.status().message().find(c.refusal), std::string::npos) << tags.status();
      }
    }
  }
}

}  // namespace
}  // namespace medvault::frontend
