// Frames of in-memory DCMTK objects (wado_frames.h): native multi-frame pixel data cut into its
// frames, encapsulated frames gathered from their fragments through the Basic Offset Table, and
// the media type an Accept value gets without transcoding.
#include "frontend/web/wado_frames.h"

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <vector>

#include "frontend/testing/dicom_bytes.h"

namespace medvault::frontend::web {
namespace {

// A 2x2 8-bit monochrome image of `frames` frames, each the attributes only (no Pixel Data).
std::unique_ptr<DcmFileFormat> Image(int frames) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmDataset* d = file->getDataset();
  d->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.10.1016.9.1");
  d->putAndInsertUint16(DCM_Rows, 2);
  d->putAndInsertUint16(DCM_Columns, 2);
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, 8);
  d->putAndInsertUint16(DCM_BitsStored, 8);
  d->putAndInsertUint16(DCM_HighBit, 7);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  d->putAndInsertString(DCM_NumberOfFrames, std::to_string(frames).c_str());
  return file;
}

// `file` written in `xfer` and parsed back from memory, as the door parses a stored instance.
std::unique_ptr<DcmFileFormat> RoundTrip(DcmFileFormat& file, E_TransferSyntax xfer) {
  absl::StatusOr<std::unique_ptr<DcmFileFormat>> parsed =
      ParseDicomInMemory(DicomBytes(file, 1 << 16, xfer));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : std::make_unique<DcmFileFormat>();
}

// Encapsulated pixel data (JPEG baseline's transfer syntax): `fragments`, with `offsets` as the
// Basic Offset Table (empty: none).
std::unique_ptr<DcmFileFormat> Encapsulated(int frames, const std::vector<std::string>& fragments,
                                            const std::vector<Uint32>& offsets) {
  std::unique_ptr<DcmFileFormat> file = Image(frames);
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  auto* table = new DcmPixelItem(DcmTag(DCM_PixelItemTag));
  if (!offsets.empty()) {
    table->putUint8Array(reinterpret_cast<const Uint8*>(offsets.data()),
                         static_cast<Uint32>(offsets.size() * 4));
  }
  sequence->insert(table);
  for (const std::string& f : fragments) {
    auto* item = new DcmPixelItem(DcmTag(DCM_PixelItemTag));
    item->putUint8Array(reinterpret_cast<const Uint8*>(f.data()), static_cast<Uint32>(f.size()));
    sequence->insert(item);
  }
  auto* pixel = new DcmPixelData(DCM_PixelData);
  pixel->putOriginalRepresentation(EXS_JPEGProcess1, nullptr, sequence);
  file->getDataset()->insert(pixel);
  return RoundTrip(*file, EXS_JPEGProcess1);
}

std::vector<std::string> Bytes(const absl::StatusOr<Frames>& f) {
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? f->bytes : std::vector<std::string>();
}

TEST(WadoFramesTest, FrameLists) {
  EXPECT_EQ(*ParseFrameList("1"), std::vector<uint32_t>{1});
  EXPECT_EQ(*ParseFrameList("3, 1,3"), (std::vector<uint32_t>{3, 1, 3}));
  for (const char* bad : {"", "0", "a", "1,,2", "-1", "1;2", "99999999999"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseFrameList(bad).status())) << bad;
  }
}

TEST(WadoFramesTest, NativeFramesAreTheirBytes) {
  std::unique_ptr<DcmFileFormat> file = Image(3);
  const std::string pixels = "ABCDEFGHIJKL";  // 3 frames of 2x2 bytes
  file->getDataset()->putAndInsertUint8Array(DCM_PixelData,
                                             reinterpret_cast<const Uint8*>(pixels.data()), 12);
  std::unique_ptr<DcmFileFormat> read = RoundTrip(*file, EXS_LittleEndianExplicit);
  absl::StatusOr<Frames> f = ExtractFrames(*read, {2, 1, 3});
  EXPECT_EQ(Bytes(f), (std::vector<std::string>{"EFGH", "ABCD", "IJKL"}));
  EXPECT_FALSE(f->encapsulated);
  EXPECT_EQ(f->number_of_frames, 3u);
  EXPECT_TRUE(absl::IsNotFound(ExtractFrames(*read, {4}).status()));
}

TEST(WadoFramesTest, EncapsulatedFramesGatherTheirFragments) {
  // Frame 1 in two fragments, frame 2 in one: the Basic Offset Table locates frame 2 (each item
  // header is 8 bytes).
  std::unique_ptr<DcmFileFormat> file = Encapsulated(2, {"AAAA", "BB", "CCCC"}, {0, 8 + 4 + 8 + 2});
  absl::StatusOr<Frames> f = ExtractFrames(*file, {2, 1});
  EXPECT_EQ(Bytes(f), (std::vector<std::string>{"CCCC", "AAAABB"}));
  EXPECT_TRUE(f->encapsulated);
  EXPECT_EQ(f->transfer_syntax, "1.2.840.10008.1.2.4.50");
  // One fragment a frame needs no offset table.
  EXPECT_EQ(Bytes(ExtractFrames(*Encapsulated(2, {"AAAA", "CCCC"}, {}), {2})),
            std::vector<std::string>{"CCCC"});
  // A single frame is all the fragments.
  EXPECT_EQ(Bytes(ExtractFrames(*Encapsulated(1, {"AAAA", "BB"}, {}), {1})),
            std::vector<std::string>{"AAAABB"});
  // Several fragments a frame and no offset table: not located, rather than guessed.
  EXPECT_EQ(ExtractFrames(*Encapsulated(2, {"AAAA", "BB", "CCCC"}, {}), {2}).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(WadoFramesTest, NoPixelDataIsNotFound) {
  std::unique_ptr<DcmFileFormat> file = Image(1);
  EXPECT_TRUE(absl::IsNotFound(ExtractFrames(*file, {1}).status()));
}

TEST(WadoFramesTest, MediaTypeWithoutTranscoding) {
  const std::string jpeg = "1.2.840.10008.1.2.4.50", rle = "1.2.840.10008.1.2.5";
  auto choose = [](const std::string& accept, const std::string& ts, bool encapsulated) {
    absl::StatusOr<FrameMedia> m = ChooseFrameMedia(accept, ts, encapsulated);
    return m.ok() ? m->media_type + " " + m->transfer_syntax : std::string("406");
  };
  const std::string native = "application/octet-stream 1.2.840.10008.1.2.1";
  EXPECT_EQ(choose("", "1.2.840.10008.1.2", false), native);
  EXPECT_EQ(
      choose("multipart/related; type=\"application/octet-stream\"", "1.2.840.10008.1.2", false),
      native);
  EXPECT_EQ(choose("multipart/related; type=application/octet-stream; transfer-syntax=*",
                   "1.2.840.10008.1.2.1", false),
            native);
  EXPECT_EQ(choose("multipart/related; type=\"image/jpeg\"", "1.2.840.10008.1.2.1", false), "406");
  EXPECT_EQ(choose("multipart/related; type=\"application/octet-stream\"; "
                   "transfer-syntax=1.2.840.10008.1.2.4.50",
                   "1.2.840.10008.1.2.1", false),
            "406");
  // Encapsulated: the stored bitstream under its media type, or as octet-stream with
  // transfer-syntax=* (what OHIF asks for); never decompressed.
  EXPECT_EQ(choose("multipart/related; type=\"image/jpeg\"", jpeg, true), "image/jpeg " + jpeg);
  EXPECT_EQ(choose("multipart/related; type=\"image/jpeg\"; transfer-syntax=\"" +
                       std::string("1.2.840.10008.1.2.4.50\""),
                   jpeg, true),
            "image/jpeg " + jpeg);
  EXPECT_EQ(choose("multipart/related; type=\"image/jpeg\"", "1.2.840.10008.1.2.4.70", true),
            "406");  // image/jpeg alone means baseline
  EXPECT_EQ(choose("multipart/related; type=image/jpeg; transfer-syntax=*",
                   "1.2.840.10008.1.2.4.70", true),
            "image/jpeg 1.2.840.10008.1.2.4.70");
  EXPECT_EQ(choose("multipart/related; type=\"application/octet-stream\"", jpeg, true), "406");
  EXPECT_EQ(
      choose("multipart/related; type=\"application/octet-stream\"; transfer-syntax=*", jpeg, true),
      "application/octet-stream " + jpeg);
  EXPECT_EQ(choose("multipart/related; type=\"image/jls\"", jpeg, true), "406");
  EXPECT_EQ(choose("*/*", rle, true), "image/dicom-rle " + rle);
  EXPECT_EQ(choose("multipart/related; type=\"image/x-dicom-rle\"", rle, true),
            "image/x-dicom-rle " + rle);
  // q-values order the ranges; q=0 refuses.
  EXPECT_EQ(choose("multipart/related; type=\"application/octet-stream\"; transfer-syntax=*; "
                   "q=0.5, multipart/related; type=\"image/jpeg\"",
                   jpeg, true),
            "image/jpeg " + jpeg);
  EXPECT_EQ(choose("multipart/related; type=\"image/jpeg\"; q=0", jpeg, true), "406");
  EXPECT_EQ(choose("application/json", jpeg, true), "406");
  EXPECT_EQ(FrameMediaTypeOf("1.2.840.10008.1.2.4.90"), "image/jp2");
  EXPECT_EQ(FrameMediaTypeOf("1.2.840.10008.1.2.4.100"), "");
}

}  // namespace
}  // namespace medvault::frontend::web
