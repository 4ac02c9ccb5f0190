#include "frontend/dimse/dicom_access.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace medvault::frontend {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(DicomAccessTest, LoopbackDefaultGrantsReadWriteToAnyAeFromLoopbackOnly) {
  DicomAccess access = DicomAccess::LoopbackDefault();
  EXPECT_THAT(access.ScopesOf("STORESCU", "127.0.0.1"),
              UnorderedElementsAre(Scope::kRead, Scope::kWrite));
  EXPECT_THAT(access.ScopesOf("ANY  ", "::1"), UnorderedElementsAre(Scope::kRead, Scope::kWrite));
  EXPECT_THAT(access.ScopesOf("STORESCU", "10.0.0.7"), IsEmpty());
}

TEST(DicomAccessTest, FirstMatchingRuleDecides) {
  absl::StatusOr<DicomAccess> access = DicomAccess::Parse(
      "# scanner may only store\nCT_SCANNER 10.1.2.3 write\n"
      "VIEWER * read   # anywhere\n* loopback read,write\n");
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_THAT(access->ScopesOf("CT_SCANNER", "10.1.2.3"), ElementsAre(Scope::kWrite));
  EXPECT_THAT(access->ScopesOf("CT_SCANNER", "10.1.2.4"), IsEmpty());
  EXPECT_THAT(access->ScopesOf("VIEWER", "192.168.0.1"), ElementsAre(Scope::kRead));
  EXPECT_THAT(access->ScopesOf("VIEWER", "127.0.0.1"), ElementsAre(Scope::kRead));
  EXPECT_THAT(access->ScopesOf("OTHER", "127.0.0.5"),
              UnorderedElementsAre(Scope::kRead, Scope::kWrite));
}

TEST(DicomAccessTest, MalformedRulesNameTheirLine) {
  for (const char* bad : {"AE 127.0.0.1", "AE somehost read", "AE * fly",
                          "AN_AE_TITLE_TOO_LONG_ * read", "AE * read extra"}) {
    absl::StatusOr<DicomAccess> access = DicomAccess::Parse(std::string("\n") + bad);
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(access.status().message()), ::testing::HasSubstr("line 2")) << bad;
  }
}

TEST(DicomAccessTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.0.0.1"));
}

TEST(DicomPeersTest, ParsesDestinationsAndRefusesBadLines) {
  absl::StatusOr<std::vector<DicomPeer>> peers =
      ParseDicomPeers("# destinations\nSTORESCP 127.0.0.1 11112\nPACS pacs.example 104\n");
  ASSERT_TRUE(peers.ok()) << peers.status();
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].ae_title, "STORESCP");
  EXPECT_EQ((*peers)[0].host, "127.0.0.1");
  EXPECT_EQ((*peers)[0].port, 11112);
  for (const char* bad : {"A 1.2.3.4", "A 1.2.3.4 0", "A 1.2.3.4 65536", "A h x", "A h 1\nA h 2"}) {
    EXPECT_EQ(ParseDicomPeers(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DicomPeersTest, ATlsDestinationNamesTheClusterCaOrItsOwn) {
  absl::StatusOr<std::vector<DicomPeer>> peers =
      ParseDicomPeers("PLAIN h 104\nSECURE h 2762 tls\nOTHER h 2762 tls=/etc/pacs-ca.pem\n");
  ASSERT_TRUE(peers.ok()) << peers.status();
  EXPECT_FALSE((*peers)[0].tls);
  EXPECT_TRUE((*peers)[1].tls);
  EXPECT_EQ((*peers)[1].tls_ca_file, "");
  EXPECT_TRUE((*peers)[2].tls);
  EXPECT_EQ((*peers)[2].tls_ca_file, "/etc/pacs-ca.pem");
  for (const char* bad : {"A h 1 ssl", "A h 1 tls=", "A h 1 tls x"}) {
    EXPECT_EQ(ParseDicomPeers(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PrintableAeTitleTest, KeepsLogLinesClean) {
  EXPECT_EQ(PrintableAeTitle("STORESCU  "), "STORESCU");
  EXPECT_EQ(PrintableAeTitle("A\nB"), "A?B");
  EXPECT_EQ(PrintableAeTitle("0123456789ABCDEFGH"), "0123456789ABCDEF");
}

}  // namespace
}  // namespace medvault::frontend
