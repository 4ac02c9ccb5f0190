#include "chunkserver/testing/chunk_disk.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chunkserver/core/chunk_store.h"
#include "chunkserver/core/pack_chunk_store.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver::testing {
namespace {

std::string Id(uint8_t first) {
  std::string id(kChunkIdBytes, '\x33');
  id[0] = static_cast<char>(first);
  return id;
}

// The helper against each layout's real store: what it lists is what the store serves, and the
// damage it does is what the store detects.
class ChunkDiskTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "pack") {
      store_ = std::make_unique<PackChunkStore>(DefaultFilesystem(), RealClock(), dir_.path());
    } else {
      store_ = std::make_unique<FileChunkStore>(DefaultFilesystem(), RealClock(), dir_.path());
    }
    ASSERT_TRUE(store_->Open().ok());
    for (uint8_t i = 1; i <= 5; ++i) {
      absl::StatusOr<std::string> data = RandomBytes(1000);
      ASSERT_TRUE(data.ok());
      ASSERT_TRUE(store_->Write(Id(i), *data, Crc32c(*data)).ok());
    }
    ASSERT_TRUE(store_->Delete({Id(5)}).ok());
  }

  std::vector<ChunkOnDisk> List() {
    absl::StatusOr<std::vector<ChunkOnDisk>> chunks = ListChunksOnDisk(dir_.path());
    EXPECT_TRUE(chunks.ok()) << chunks.status();
    return chunks.ok() ? *chunks : std::vector<ChunkOnDisk>();
  }

  medvault::testing::TempDir dir_;
  std::unique_ptr<ChunkStore> store_;
};

TEST_P(ChunkDiskTest, ListsTheLiveChunksOfTheLayout) {
  EXPECT_EQ(LayoutOf(dir_.path()), GetParam());
  std::vector<ChunkOnDisk> chunks = List();
  ASSERT_EQ(chunks.size(), 4u);
  for (size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].id, Id(i + 1));
  absl::StatusOr<size_t> n = CountChunksOnDisk(dir_.path(), {Id(1), Id(3), Id(5), Id(9)});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
}

TEST_P(ChunkDiskTest, CorruptRemoveAndSwapAreDetectedAndRestoreUndoes) {
  std::vector<ChunkOnDisk> chunks = List();
  ASSERT_EQ(chunks.size(), 4u);
  // Put back before a read finds the damage (a read quarantines: the chunk is gone for good).
  absl::StatusOr<std::string> original = ReadChunkOnDisk(chunks[0]);
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(CorruptChunkOnDisk(chunks[0]).ok());
  EXPECT_NE(*ReadChunkOnDisk(chunks[0]), *original);
  ASSERT_TRUE(RestoreChunkOnDisk(chunks[0], *original).ok());
  EXPECT_TRUE(store_->Read(Id(1)).ok());
  ASSERT_TRUE(CorruptChunkOnDisk(chunks[0]).ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read(Id(1)).status()));

  ASSERT_TRUE(SwapChunksOnDisk(chunks[1], chunks[2]).ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read(Id(2)).status()));
  EXPECT_TRUE(absl::IsDataLoss(store_->Read(Id(3)).status()));

  ASSERT_TRUE(RemoveChunkOnDisk(chunks[3]).ok());
  absl::Status read = store_->Read(Id(4)).status();
  EXPECT_TRUE(absl::IsDataLoss(read) || absl::IsNotFound(read)) << read;
}

INSTANTIATE_TEST_SUITE_P(Layouts, ChunkDiskTest, ::testing::Values("files", "pack"));

}  // namespace
}  // namespace medvault::chunkserver::testing
