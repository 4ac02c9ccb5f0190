#include "common/crypto.h"

#include <gtest/gtest.h>

namespace medvault {
namespace {

TEST(Crc32cTest, MatchesStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(AesGcmTest, RoundTripAndTamperDetection) {
  std::string key = RandomBytes(kAesKeyBytes).value();
  std::string nonce = RandomBytes(kGcmNonceBytes).value();
  auto sealed = AesGcmSeal(key, nonce, "ad", "hello world");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 11 + kGcmTagBytes);
  EXPECT_EQ(AesGcmOpen(key, nonce, "ad", *sealed).value(), "hello world");

  std::string flipped = *sealed;
  flipped[3] ^= 0x01;
  EXPECT_EQ(AesGcmOpen(key, nonce, "ad", flipped).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(AesGcmOpen(key, nonce, "other", *sealed).status().code(), absl::StatusCode::kDataLoss);
  std::string other_key = RandomBytes(kAesKeyBytes).value();
  EXPECT_EQ(AesGcmOpen(other_key, nonce, "ad", *sealed).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(AesGcmTest, RejectsBadKeySize) {
  EXPECT_EQ(AesGcmSeal("short", std::string(12, 'n'), "", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Sha256Test, KnownVectorAndIncremental) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Finish(), Sha256("abc"));
}

TEST(SecretBytesTest, WipeEmpties) {
  SecretBytes s(std::string(32, 'k'));
  EXPECT_EQ(s.size(), 32u);
  s.Wipe();
  EXPECT_TRUE(s.empty());
}

TEST(HexTest, RoundTrip) {
  EXPECT_EQ(FromHex(ToHex("\x01\xab")).value(), "\x01\xab");
  EXPECT_FALSE(FromHex("zz").ok());
  EXPECT_FALSE(FromHex("abc").ok());
}

}  // namespace
}  // namespace medvault
