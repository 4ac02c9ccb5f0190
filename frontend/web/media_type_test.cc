#include "frontend/web/media_type.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace medvault::frontend::web {
namespace {

TEST(MediaTypeTest, QuotedAndUnquotedParameters) {
  absl::StatusOr<MediaType> m = ParseMediaType(
      "Multipart/Related; type=\"application/dicom\"; boundary=\"a;b,c\"; transfer-syntax=*");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, "multipart/related");
  EXPECT_EQ(m->Param("type"), "application/dicom");
  EXPECT_EQ(m->Param("boundary"), "a;b,c");
  EXPECT_EQ(m->Param("transfer-syntax"), "*");
}

// dicomweb-client's Accept for WADO-RS: a quoted value last (Beast hands back a copy of it).
TEST(MediaTypeTest, QuotedValueLast) {
  absl::StatusOr<MediaType> m = ParseMediaType("multipart/related; type=\"application/dicom\"");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->Param("type"), "application/dicom");
}

// Clients send the type parameter unquoted although "/" is no token character.
TEST(MediaTypeTest, UnquotedValuesWithSlashes) {
  absl::StatusOr<MediaType> m =
      ParseMediaType("multipart/related; type=application/dicom; boundary=b:1 ");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->Param("type"), "application/dicom");
  EXPECT_EQ(m->Param("boundary"), "b:1");
  std::vector<MediaType> ranges =
      ParseAccept("multipart/related; type=application/dicom; transfer-syntax=*");
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].Param("type"), "application/dicom");
}

// OHIF's Accept for frames: media types as unquoted values (not RFC 7230 tokens, but common).
TEST(MediaTypeTest, UnquotedMediaTypeValues) {
  absl::StatusOr<MediaType> m =
      ParseMediaType("multipart/related; type=application/octet-stream ; transfer-syntax=*;q=0.9");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->Param("type"), "application/octet-stream");
  EXPECT_EQ(m->Param("transfer-syntax"), "*");
  EXPECT_EQ(m->Param("q"), "0.9");
}

TEST(MediaTypeTest, MalformedIsRefused) {
  EXPECT_FALSE(ParseMediaType("multipart").ok());
  EXPECT_FALSE(ParseMediaType("multipart/related; type=\"unterminated").ok());
  EXPECT_FALSE(ParseMediaType("multipart/related; =x").ok());
}

TEST(MediaTypeTest, AcceptSplitsOutsideQuotesAndDropsQZero) {
  std::vector<MediaType> ranges = ParseAccept(
      "multipart/related; type=\"application/dicom, x\"; q=0.9, application/json;q=0, */*");
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].Param("type"), "application/dicom, x");
  EXPECT_EQ(ranges[1].type, "*/*");
}

}  // namespace
}  // namespace medvault::frontend::web
