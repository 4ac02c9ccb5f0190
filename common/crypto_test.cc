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

// In place, a tag that does not verify leaves no plaintext behind: the decrypted bytes are wiped.
TEST(AesGcmTest, OpenInPlaceDecryptsOrWipes) {
  const std::string key = RandomBytes(kAesKeyBytes).value();
  const std::string nonce = RandomBytes(kGcmNonceBytes).value();
  const std::string plain(1000, 'p');
  const std::string sealed = AesGcmSeal(key, nonce, "ad", plain).value();
  std::string buffer = sealed;
  ASSERT_TRUE(AesGcmOpenInPlace(key, nonce, "ad", buffer.data(), buffer.size()).ok());
  EXPECT_EQ(buffer.substr(0, plain.size()), plain);

  for (size_t at : {size_t{5}, sealed.size() - 1}) {  // a ciphertext byte, a tag byte
    buffer = sealed;
    buffer[at] ^= 0x01;
    absl::Status s = AesGcmOpenInPlace(key, nonce, "ad", buffer.data(), buffer.size());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_EQ(buffer.substr(0, plain.size()), std::string(plain.size(), '\0')) << at;
  }
  buffer = sealed;
  EXPECT_EQ(AesGcmOpenInPlace(key, nonce, "other ad", buffer.data(), buffer.size()).code(),
            absl::StatusCode::kDataLoss);
  // Only where the plaintext was: the tag after it is random and may hold any byte.
  EXPECT_EQ(buffer.substr(0, plain.size()), std::string(plain.size(), '\0'));
  EXPECT_EQ(AesGcmOpenInPlace(key, nonce, "ad", buffer.data(), kGcmTagBytes - 1).code(),
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
