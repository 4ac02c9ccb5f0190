#include "frontend/dimse/store_stream.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

TEST(Part10HeaderTest, IsAFileMetaHeaderDcmtkReadsBack) {
  absl::StatusOr<std::string> header =
      Part10Header(UID_CTImageStorage, "1.2.3.4.5", UID_JPEGProcess14SV1TransferSyntax, "SCU");
  ASSERT_TRUE(header.ok()) << header.status();
  ASSERT_GT(header->size(), 132u);
  EXPECT_EQ(header->substr(0, 128), std::string(128, '\0'));
  EXPECT_EQ(header->substr(128, 4), "DICM");

  DcmInputBufferStream in;
  in.setBuffer(header->data(), header->size());
  in.setEos();
  DcmMetaInfo meta;
  meta.transferInit();
  ASSERT_TRUE(meta.read(in, EXS_Unknown).good());
  meta.transferEnd();
  OFString value;
  ASSERT_TRUE(meta.findAndGetOFString(DCM_MediaStorageSOPClassUID, value).good());
  EXPECT_EQ(value, UID_CTImageStorage);
  ASSERT_TRUE(meta.findAndGetOFString(DCM_MediaStorageSOPInstanceUID, value).good());
  EXPECT_EQ(value, "1.2.3.4.5");
  ASSERT_TRUE(meta.findAndGetOFString(DCM_TransferSyntaxUID, value).good());
  EXPECT_EQ(value, UID_JPEGProcess14SV1TransferSyntax);
  ASSERT_TRUE(meta.findAndGetOFString(DCM_SourceApplicationEntityTitle, value).good());
  EXPECT_EQ(value, "SCU");
  // The group length covers exactly the rest of the header.
  Uint32 length = 0;
  ASSERT_TRUE(meta.findAndGetUint32(DCM_FileMetaInformationGroupLength, length).good());
  EXPECT_EQ(132 + 12 + length, header->size());
}

TEST(SinkOutputStreamTest, PassesBytesOnAndKeepsTheFirstError) {
  std::string got;
  int calls = 0;
  SinkOutputStream out(
      [&](absl::string_view piece) {
        ++calls;
        got.append(piece.data(), piece.size());
        return calls == 2 ? absl::UnavailableError("down") : absl::OkStatus();
      },
      1 << 20);
  out.stream()->write("abc", 3);
  out.stream()->write("def", 3);
  out.stream()->write("ghi", 3);  // discarded, the stream stays good
  EXPECT_TRUE(out.stream()->good());
  EXPECT_EQ(got, "abcdef");
  EXPECT_EQ(out.error().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(out.bytes(), 9u);
}

TEST(SinkOutputStreamTest, RefusesBytesPastTheLimit) {
  std::string got;
  SinkOutputStream out(
      [&](absl::string_view piece) {
        got.append(piece.data(), piece.size());
        return absl::OkStatus();
      },
      4);
  out.stream()->write("abc", 3);
  out.stream()->write("def", 3);
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(out.error().code(), absl::StatusCode::kResourceExhausted);
}

TEST(StoreStatusForTest, MapsOutcomesToDocumentedStatuses) {
  EXPECT_EQ(StoreStatusFor(absl::OkStatus()).code, 0x0000);
  EXPECT_TRUE(StoreStatusFor(absl::OkStatus()).comment.empty());
  EXPECT_EQ(StoreStatusFor(absl::AlreadyExistsError("x")).code, 0x0111);
  EXPECT_EQ(StoreStatusFor(absl::PermissionDeniedError("x")).code, 0x0124);
  EXPECT_EQ(StoreStatusFor(absl::FailedPreconditionError("x")).code, 0xA900);
  EXPECT_EQ(StoreStatusFor(absl::InvalidArgumentError("x")).code, 0xC000);
  EXPECT_EQ(StoreStatusFor(absl::ResourceExhaustedError("x")).code, 0xA700);
  EXPECT_EQ(StoreStatusFor(absl::UnavailableError("x")).code, 0xA700);
  EXPECT_EQ(StoreStatusFor(absl::DataLossError("x")).code, 0x0110);
  for (absl::StatusCode code :
       {absl::StatusCode::kAlreadyExists, absl::StatusCode::kPermissionDenied,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInvalidArgument,
        absl::StatusCode::kResourceExhausted, absl::StatusCode::kUnavailable,
        absl::StatusCode::kInternal}) {
    const DimseStatus s = StoreStatusFor(absl::Status(code, "the message is never copied"));
    EXPECT_FALSE(s.comment.empty());
    EXPECT_LE(s.comment.size(), 64u);  // Error Comment is LO
    EXPECT_EQ(s.comment.find("never copied"), std::string::npos);
  }
}

}  // namespace
}  // namespace medvault::frontend
