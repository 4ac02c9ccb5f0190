#include "frontend/core/chunk_crypto.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace medvault::frontend {
namespace {

class ChunkCryptoTest : public ::testing::Test {
 protected:
  // Seals a 3-chunk object the way the frontend does.
  std::vector<std::string> SealObject(const std::string& key, const std::string& id) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < 3; ++i)
      out.push_back(EncryptChunk(key, id, i, i == 2, plain_[i]).value());
    return out;
  }
  std::string key_a_ = RandomBytes(32).value();
  std::string key_b_ = RandomBytes(32).value();
  std::string id_a_ = RandomBytes(16).value();
  std::string id_b_ = RandomBytes(16).value();
  std::string plain_[3] = {std::string(100, 'a'), std::string(100, 'b'), std::string(40, 'c')};
};

TEST_F(ChunkCryptoTest, RoundTrip) {
  auto sealed = SealObject(key_a_, id_a_);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sealed[i].size(), plain_[i].size() + kChunkOverheadBytes);
    EXPECT_EQ(DecryptChunk(key_a_, id_a_, i, i == 2, sealed[i]).value(), plain_[i]);
  }
}

TEST_F(ChunkCryptoTest, EveryFlippedBitIsDataLoss) {
  auto sealed = SealObject(key_a_, id_a_);
  // Flip one bit at every position of the envelope: version, nonce, ciphertext and tag.
  for (size_t pos = 0; pos < sealed[1].size(); ++pos) {
    std::string bad = sealed[1];
    bad[pos] ^= 0x10;
    EXPECT_EQ(DecryptChunk(key_a_, id_a_, 1, false, bad).status().code(),
              absl::StatusCode::kDataLoss)
        << pos;
  }
}

TEST_F(ChunkCryptoTest, ReorderedChunksAreDataLoss) {
  auto sealed = SealObject(key_a_, id_a_);
  // Chunk 1's bytes presented as chunk 0 and vice versa.
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 0, false, sealed[1]).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 1, false, sealed[0]).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(ChunkCryptoTest, DroppedLastChunkIsDataLoss) {
  auto sealed = SealObject(key_a_, id_a_);
  // Truncating the object to two chunks makes chunk 1 the last one: its last flag does not match.
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 1, true, sealed[1]).status().code(),
            absl::StatusCode::kDataLoss);
  // And the real last chunk cannot pass as a middle one.
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 2, false, sealed[2]).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(ChunkCryptoTest, ChunkSwappedBetweenObjectsIsDataLoss) {
  auto a = SealObject(key_a_, id_a_);
  auto b = SealObject(key_b_, id_b_);
  // Object b's chunk 0 in object a's place: wrong key and wrong object id.
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 0, false, b[0]).status().code(),
            absl::StatusCode::kDataLoss);
  // Even under the same key, the object id binds the chunk to its object.
  auto same_key_other_object = EncryptChunk(key_a_, id_b_, 0, false, plain_[0]).value();
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 0, false, same_key_other_object).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(ChunkCryptoTest, MalformedEnvelopes) {
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 0, true, "").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunk(key_a_, id_a_, 0, true, std::string(10, 'x')).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(EncryptChunk(key_a_, "short", 0, true, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ChunkCryptoTest, NoncesDifferSoEqualPlaintextsDoNotRepeat) {
  auto x = EncryptChunk(key_a_, id_a_, 0, true, plain_[0]).value();
  auto y = EncryptChunk(key_a_, id_a_, 0, true, plain_[0]).value();
  EXPECT_NE(x, y);
}

TEST_F(ChunkCryptoTest, DecryptInPlaceKeepsTheBufferItWasGiven) {
  auto sealed = SealObject(key_a_, id_a_);
  for (uint32_t i = 0; i < 3; ++i) {
    std::string buffer = sealed[i];
    const char* const at = buffer.data();
    absl::StatusOr<PlainChunk> plain =
        DecryptChunkInPlace(key_a_, id_a_, i, i == 2, std::move(buffer));
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(plain->view(), plain_[i]);
    EXPECT_EQ(plain->view().data(), at + 1 + kGcmNonceBytes);  // decrypted where it arrived
    PlainChunk moved = std::move(*plain);
    moved.Narrow(10, 30);
    EXPECT_EQ(moved.view(), plain_[i].substr(10, 20));
  }
  EXPECT_EQ(PlainChunk(std::string("whole")).view(), "whole");
}

TEST_F(ChunkCryptoTest, DecryptInPlaceRefusesWhatDecryptRefuses) {
  auto sealed = SealObject(key_a_, id_a_);
  for (size_t pos = 0; pos < sealed[1].size(); ++pos) {
    std::string bad = sealed[1];
    bad[pos] ^= 0x10;
    absl::StatusOr<PlainChunk> plain = DecryptChunkInPlace(key_a_, id_a_, 1, false, bad);
    EXPECT_EQ(plain.status().code(), absl::StatusCode::kDataLoss) << pos;
  }
  EXPECT_EQ(DecryptChunkInPlace(key_b_, id_a_, 0, false, sealed[0]).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunkInPlace(key_a_, id_b_, 0, false, sealed[0]).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunkInPlace(key_a_, id_a_, 1, false, sealed[0]).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunkInPlace(key_a_, id_a_, 2, false, sealed[2]).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecryptChunkInPlace(key_a_, id_a_, 0, false, "short").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace medvault::frontend
