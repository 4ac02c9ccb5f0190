#include "chunkserver/core/chunk_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "chunkserver/testing/chunk_ids.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/testing/fault_fs.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

using ::medvault::testing::FaultInjectingFilesystem;
using ::medvault::testing::TempDir;

using ::medvault::chunkserver::testing::RandomData;

std::string Id(uint8_t first, uint8_t last = 0) {
  return ::medvault::chunkserver::testing::TestChunkId('\x11', first, last);
}

std::string PathOf(const std::string& data_dir, const std::string& id) {
  const std::string hex = ToHex(id);
  return data_dir + "/chunks/" + hex.substr(0, 2) + "/" + hex;
}

void OverwriteFile(const std::string& path, const std::string& contents) {
  auto file = DefaultFilesystem()->NewWritableFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(contents).ok());
  ASSERT_TRUE((*file)->Close().ok());
}

class ChunkStoreTest : public ::testing::Test {
 protected:
  ChunkStoreTest() : fs_(DefaultFilesystem()), store_(&fs_, &clock_, dir_.path()) {}
  void SetUp() override { ASSERT_TRUE(store_.Open().ok()); }

  // Reopens a fresh store over the same directory (as after a restart).
  std::unique_ptr<FileChunkStore> Reopen() {
    auto store = std::make_unique<FileChunkStore>(&fs_, &clock_, dir_.path());
    EXPECT_TRUE(store->Open().ok());
    return store;
  }

  std::vector<std::string> TmpFiles() {
    auto names = DefaultFilesystem()->ListDir(dir_.path() + "/tmp");
    EXPECT_TRUE(names.ok());
    return *names;
  }

  TempDir dir_;
  FakeClock clock_;
  FaultInjectingFilesystem fs_;
  FileChunkStore store_;
};

TEST_F(ChunkStoreTest, RoundTrip) {
  const std::string data = RandomData(100'000);
  ASSERT_TRUE(store_.Write(Id(1), data, Crc32c(data)).ok());
  absl::StatusOr<ChunkData> read = store_.Read(Id(1));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, data);
  EXPECT_EQ(read->crc32c, Crc32c(data));
  EXPECT_EQ(store_.chunk_count(), 1u);

  // File layout: chunks/<2 hex>/<32 hex>, 36-byte header (format version 2, with the id) then
  // payload.
  auto file = DefaultFilesystem()->ReadFile(PathOf(dir_.path(), Id(1)));
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->size(), kChunkHeaderBytes + data.size());
  EXPECT_EQ(file->substr(0, 4), "MVC2");
  EXPECT_EQ(file->substr(16, kChunkIdBytes), Id(1));
  EXPECT_EQ(file->substr(0, kChunkHeaderBytes),
            EncodeChunkHeader(Id(1), data.size(), Crc32c(data)));
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(ChunkStoreTest, EmptyChunkRoundTrip) {
  ASSERT_TRUE(store_.Write(Id(2), "", Crc32c("")).ok());
  absl::StatusOr<ChunkData> read = store_.Read(Id(2));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, "");
}

TEST_F(ChunkStoreTest, RejectsBadIds) {
  EXPECT_TRUE(absl::IsInvalidArgument(store_.Write("short", "x", Crc32c("x"))));
  EXPECT_TRUE(absl::IsInvalidArgument(store_.Read(std::string(17, 'a')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_.Delete({Id(1), "bad"}).status()));
}

TEST_F(ChunkStoreTest, WrongCrcIsDataLossAndStoresNothing) {
  const std::string data = RandomData(1000);
  absl::Status s = store_.Write(Id(3), data, Crc32c(data) ^ 1);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_TRUE(absl::IsNotFound(store_.Read(Id(3)).status()));
  EXPECT_FALSE(DefaultFilesystem()->Exists(PathOf(dir_.path(), Id(3))));
  EXPECT_EQ(store_.chunk_count(), 0u);
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(ChunkStoreTest, ReadMissingIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(store_.Read(Id(4)).status()));
}

TEST_F(ChunkStoreTest, FlippedPayloadByteIsDataLoss) {
  const std::string data = RandomData(4096);
  ASSERT_TRUE(store_.Write(Id(5), data, Crc32c(data)).ok());
  const std::string path = PathOf(dir_.path(), Id(5));
  std::string file = *DefaultFilesystem()->ReadFile(path);
  file[kChunkHeaderBytes + 1000] ^= 0x01;
  OverwriteFile(path, file);
  absl::Status s = store_.Read(Id(5)).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(ToHex(Id(5))), std::string::npos) << s;
}

// Issue 14: a file holding another chunk's (intact) bytes is a corrupt replica, not a good one.
TEST_F(ChunkStoreTest, SwappedFilesAreDataLossAndQuarantined) {
  const std::string a = RandomData(4096), b = RandomData(4096);
  ASSERT_TRUE(store_.Write(Id(20), a, Crc32c(a)).ok());
  ASSERT_TRUE(store_.Write(Id(21), b, Crc32c(b)).ok());
  const std::string path_a = PathOf(dir_.path(), Id(20)), path_b = PathOf(dir_.path(), Id(21));
  const std::string file_a = *DefaultFilesystem()->ReadFile(path_a);
  const std::string file_b = *DefaultFilesystem()->ReadFile(path_b);
  OverwriteFile(path_a, file_b);
  OverwriteFile(path_b, file_a);
  for (const std::string& id : {Id(20), Id(21)}) {
    absl::Status s = store_.Read(id).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_NE(s.message().find("not the chunk it is named for"), std::string::npos) << s;
    EXPECT_TRUE(absl::IsNotFound(store_.Read(id).status())) << "quarantined";
  }
  std::vector<std::string> quarantined = store_.TakeQuarantined();
  std::sort(quarantined.begin(), quarantined.end());
  EXPECT_EQ(quarantined, (std::vector<std::string>{Id(20), Id(21)}));
  // Repair can now write the right bytes back.
  ASSERT_TRUE(store_.Write(Id(20), a, Crc32c(a)).ok());
  EXPECT_EQ(store_.Read(Id(20))->data, a);
}

TEST_F(ChunkStoreTest, SwappedFileIsReplacedByARepairWrite) {
  const std::string a = RandomData(1000), b = RandomData(1000);
  ASSERT_TRUE(store_.Write(Id(22), a, Crc32c(a)).ok());
  ASSERT_TRUE(store_.Write(Id(23), b, Crc32c(b)).ok());
  OverwriteFile(PathOf(dir_.path(), Id(22)),
                *DefaultFilesystem()->ReadFile(PathOf(dir_.path(), Id(23))));
  // Not "already stored with different bytes": the file under 22's name is not chunk 22.
  ASSERT_TRUE(store_.Write(Id(22), a, Crc32c(a)).ok());
  EXPECT_EQ(store_.Read(Id(22))->data, a);
}

TEST_F(ChunkStoreTest, FormatVersionOneFileStillReads) {
  const std::string data = RandomData(5000);
  std::string file = kChunkMagicV1;
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((data.size() >> (8 * i)) & 0xff));
  const uint32_t crc = Crc32c(data);
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  ASSERT_EQ(file.size(), kChunkHeaderBytesV1);
  file += data;
  ASSERT_TRUE(
      DefaultFilesystem()->CreateDirs(dir_.path() + "/chunks/" + ToHex(Id(24)).substr(0, 2)).ok());
  OverwriteFile(PathOf(dir_.path(), Id(24)), file);
  std::unique_ptr<FileChunkStore> store = Reopen();
  absl::StatusOr<ChunkData> read = store->Read(Id(24));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, data);
  EXPECT_EQ(read->crc32c, crc);
  // Rot in a version-1 file is still found.
  file[kChunkHeaderBytesV1 + 7] ^= 0x01;
  OverwriteFile(PathOf(dir_.path(), Id(24)), file);
  EXPECT_TRUE(absl::IsDataLoss(store->Read(Id(24)).status()));
}

TEST_F(ChunkStoreTest, CorruptHeaderIdIsDataLoss) {
  const std::string data = RandomData(100);
  ASSERT_TRUE(store_.Write(Id(25), data, Crc32c(data)).ok());
  const std::string path = PathOf(dir_.path(), Id(25));
  std::string file = *DefaultFilesystem()->ReadFile(path);
  file[20] ^= 0x01;  // a bit of the stored id
  OverwriteFile(path, file);
  absl::Status s = store_.Read(Id(25)).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

TEST_F(ChunkStoreTest, TruncatedFileIsDataLoss) {
  const std::string data = RandomData(4096);
  ASSERT_TRUE(store_.Write(Id(6), data, Crc32c(data)).ok());
  const std::string path = PathOf(dir_.path(), Id(6));
  const std::string file = *DefaultFilesystem()->ReadFile(path);
  for (size_t keep : {file.size() - 1, kChunkHeaderBytes, kChunkHeaderBytes - 1, size_t{0}}) {
    OverwriteFile(path, file.substr(0, keep));
    absl::Status s = store_.Read(Id(6)).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << "kept " << keep << ": " << s;
  }
}

TEST_F(ChunkStoreTest, BadMagicIsDataLoss) {
  const std::string data = RandomData(100);
  ASSERT_TRUE(store_.Write(Id(7), data, Crc32c(data)).ok());
  const std::string path = PathOf(dir_.path(), Id(7));
  std::string file = *DefaultFilesystem()->ReadFile(path);
  file[0] = 'X';
  OverwriteFile(path, file);
  EXPECT_TRUE(absl::IsDataLoss(store_.Read(Id(7)).status()));
}

TEST_F(ChunkStoreTest, RewriteSameBytesOkDifferentBytesAlreadyExists) {
  const std::string data = RandomData(2000);
  ASSERT_TRUE(store_.Write(Id(8), data, Crc32c(data)).ok());
  EXPECT_TRUE(store_.Write(Id(8), data, Crc32c(data)).ok());
  const std::string other = RandomData(2000);
  absl::Status s = store_.Write(Id(8), other, Crc32c(other));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(store_.Read(Id(8))->data, data);
  EXPECT_EQ(store_.chunk_count(), 1u);
}

TEST_F(ChunkStoreTest, CorruptStoredChunkIsReplacedByAVerifiedWrite) {
  const std::string data = RandomData(2000);
  ASSERT_TRUE(store_.Write(Id(9), data, Crc32c(data)).ok());
  const std::string path = PathOf(dir_.path(), Id(9));
  std::string file = *DefaultFilesystem()->ReadFile(path);
  file.back() ^= 0x80;
  OverwriteFile(path, file);
  ASSERT_TRUE(absl::IsDataLoss(store_.Read(Id(9)).status()));
  ASSERT_TRUE(store_.Write(Id(9), data, Crc32c(data)).ok());
  EXPECT_EQ(store_.Read(Id(9))->data, data);
  EXPECT_EQ(store_.chunk_count(), 1u);
}

TEST_F(ChunkStoreTest, EachWriteSyncsFileAndDirectoryBeforeReturning) {
  for (int i = 0; i < 5; ++i) {
    const int file_syncs = fs_.file_syncs();
    const int dir_syncs = fs_.dir_syncs();
    const std::string data = RandomData(100 + i);
    // Same subdirectory each time: after the first write no new directory is created.
    ASSERT_TRUE(store_.Write(Id(0x20, static_cast<uint8_t>(i)), data, Crc32c(data)).ok());
    EXPECT_GE(fs_.file_syncs() - file_syncs, 1) << i;
    EXPECT_GE(fs_.dir_syncs() - dir_syncs, 1) << i;
  }
}

TEST_F(ChunkStoreTest, FailedFsyncFailsWriteAndLeavesNothing) {
  const std::string data = RandomData(3000);
  fs_.FailNextSyncs(1);
  absl::Status s = store_.Write(Id(10), data, Crc32c(data));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsNotFound(store_.Read(Id(10)).status()));
  EXPECT_TRUE(TmpFiles().empty());
  EXPECT_EQ(store_.chunk_count(), 0u);
  // A retry succeeds.
  ASSERT_TRUE(store_.Write(Id(10), data, Crc32c(data)).ok());
  EXPECT_EQ(store_.Read(Id(10))->data, data);
}

TEST_F(ChunkStoreTest, AcknowledgedWritesSurvivePowerLoss) {
  std::vector<std::pair<std::string, std::string>> written;
  for (int i = 0; i < 20; ++i) {
    // Spread over several subdirectories, some new, some shared.
    std::string id = Id(static_cast<uint8_t>(i * 37), static_cast<uint8_t>(i));
    std::string data = RandomData(500 + i);
    ASSERT_TRUE(store_.Write(id, data, Crc32c(data)).ok());
    written.emplace_back(std::move(id), std::move(data));
  }
  fs_.DropUnsyncedData();
  std::unique_ptr<FileChunkStore> reopened = Reopen();
  EXPECT_EQ(reopened->chunk_count(), written.size());
  for (const auto& [id, data] : written) {
    absl::StatusOr<ChunkData> read = reopened->Read(id);
    ASSERT_TRUE(read.ok()) << ToHex(id) << ": " << read.status();
    EXPECT_EQ(read->data, data);
  }
}

TEST_F(ChunkStoreTest, DiskFullIsResourceExhaustedAndLeavesNothing) {
  const std::string data = RandomData(10'000);
  fs_.SetSpaceLeft(5000);
  absl::Status s = store_.Write(Id(11), data, Crc32c(data));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_TRUE(absl::IsNotFound(store_.Read(Id(11)).status()));
  EXPECT_FALSE(DefaultFilesystem()->Exists(PathOf(dir_.path(), Id(11))));
  EXPECT_TRUE(TmpFiles().empty());
  EXPECT_EQ(store_.chunk_count(), 0u);

  fs_.SetSpaceLeft(INT64_MAX);
  ASSERT_TRUE(store_.Write(Id(11), data, Crc32c(data)).ok());
  EXPECT_EQ(store_.Read(Id(11))->data, data);
}

TEST_F(ChunkStoreTest, OpenRemovesLeftoverTempFilesAndCountsChunks) {
  const std::string data = RandomData(100);
  ASSERT_TRUE(store_.Write(Id(12), data, Crc32c(data)).ok());
  ASSERT_TRUE(store_.Write(Id(13), data, Crc32c(data)).ok());
  OverwriteFile(dir_.path() + "/tmp/" + ToHex(Id(14)) + ".7", "half a chunk");
  std::unique_ptr<FileChunkStore> reopened = Reopen();
  EXPECT_TRUE(TmpFiles().empty());
  EXPECT_EQ(reopened->chunk_count(), 2u);
  absl::StatusOr<ChunkStoreStats> stats = reopened->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunk_count, 2u);
  EXPECT_EQ(stats->bytes_stored, 2 * (kChunkHeaderBytes + data.size()));
  EXPECT_GT(stats->capacity_bytes, 0u);
}

TEST_F(ChunkStoreTest, StatsReportDiskSpaceFromTheFilesystem) {
  fs_.SetSpaceLeft(12345);
  absl::StatusOr<ChunkStoreStats> stats = store_.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->free_bytes, 12345u);
}

TEST_F(ChunkStoreTest, DeleteCountsExistingAndIgnoresAbsent) {
  const std::string data = RandomData(100);
  ASSERT_TRUE(store_.Write(Id(15), data, Crc32c(data)).ok());
  ASSERT_TRUE(store_.Write(Id(16), data, Crc32c(data)).ok());
  const int dir_syncs = fs_.dir_syncs();
  absl::StatusOr<uint32_t> deleted = store_.Delete({Id(15), Id(15), Id(17)});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_GE(fs_.dir_syncs() - dir_syncs, 1);
  EXPECT_TRUE(absl::IsNotFound(store_.Read(Id(15)).status()));
  EXPECT_TRUE(store_.Read(Id(16)).ok());
  EXPECT_EQ(store_.chunk_count(), 1u);
  EXPECT_EQ(*store_.Delete({Id(15)}), 0u);
  // A deleted id can be written again.
  ASSERT_TRUE(store_.Write(Id(15), data, Crc32c(data)).ok());
}

TEST_F(ChunkStoreTest, ListPaginatesInIdOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(Id(static_cast<uint8_t>((i * 53) % 256), static_cast<uint8_t>(i)));
  }
  const std::string data = RandomData(10);
  for (const std::string& id : ids) ASSERT_TRUE(store_.Write(id, data, Crc32c(data)).ok());
  std::sort(ids.begin(), ids.end());

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    absl::StatusOr<ChunkList> page = store_.List(cursor, 10);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    EXPECT_LE(page->entries.size(), 10u);
    for (const ChunkListEntry& e : page->entries) {
      seen.push_back(e.id);
      EXPECT_EQ(e.size, kChunkHeaderBytes + data.size());
    }
    if (!page->more) break;
    ASSERT_FALSE(page->entries.empty());
    cursor = page->entries.back().id;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);

  // Exactly a full page: more is false.
  absl::StatusOr<ChunkList> all = store_.List("", 25);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->entries.size(), 25u);
  EXPECT_FALSE(all->more);
  // start_after the last id: nothing.
  absl::StatusOr<ChunkList> none = store_.List(ids.back(), 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->entries.empty());
  EXPECT_FALSE(none->more);
  // start_after a short prefix that sorts between ids.
  absl::StatusOr<ChunkList> tail = store_.List(ids[5].substr(0, 1), 0);
  ASSERT_TRUE(tail.ok());
  ASSERT_FALSE(tail->entries.empty());
  EXPECT_GE(tail->entries.front().id, ids[5].substr(0, 1));
}

TEST(ChunkStoreAgeTest, ListReportsAgeByTheStoreClock) {
  TempDir dir;
  // The fake clock starts an hour after the real time the file is written.
  FakeClock clock(RealClock()->NowMicros() + 3600LL * 1'000'000);
  FileChunkStore store(DefaultFilesystem(), &clock, dir.path());
  ASSERT_TRUE(store.Open().ok());
  const std::string data = "ciphertext";
  ASSERT_TRUE(store.Write(Id(1), data, Crc32c(data)).ok());
  absl::StatusOr<ChunkList> first = store.List("", 0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->entries.size(), 1u);
  const uint64_t age = first->entries[0].age_seconds;
  EXPECT_GE(age, 3590u);
  EXPECT_LE(age, 3601u);

  clock.Advance(100LL * 1'000'000);
  absl::StatusOr<ChunkList> later = store.List("", 0);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->entries[0].age_seconds, age + 100);
}

TEST_F(ChunkStoreTest, ConcurrentWritesOfDifferentAndSameIds) {
  const std::string data = RandomData(1000);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        // Half the ids are shared by all threads (same bytes: every write must succeed).
        const uint8_t first = static_cast<uint8_t>(i % 2 == 0 ? i : 50 + t * 20 + i);
        if (!store_.Write(Id(first, static_cast<uint8_t>(i)), data, Crc32c(data)).ok()) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // 10 shared ids + 8 threads * 10 own ids.
  EXPECT_EQ(store_.chunk_count(), 90u);
  EXPECT_EQ(Reopen()->chunk_count(), 90u);
}

// Issue 20: pack is the default for a new directory; a directory with chunks keeps its layout
// unless the operator names one.
TEST(ChooseLayoutTest, ExistingChunksKeepTheirLayoutUnlessNamed) {
  TempDir dir;
  Filesystem* fs = DefaultFilesystem();
  EXPECT_EQ(*ChooseLayout(fs, dir.path(), ""), "pack");
  EXPECT_EQ(*ChooseLayout(fs, dir.path(), "files"), "files");
  EXPECT_TRUE(absl::IsInvalidArgument(ChooseLayout(fs, dir.path(), "tar").status()));

  FileChunkStore files(fs, RealClock(), dir.path());
  ASSERT_TRUE(files.Open().ok());
  // Empty directories of a layout hold nothing to keep.
  EXPECT_EQ(*ChooseLayout(fs, dir.path(), ""), "pack");
  const std::string data = RandomData(100);
  ASSERT_TRUE(files.Write(Id(1), data, Crc32c(data)).ok());
  EXPECT_EQ(*ChooseLayout(fs, dir.path(), ""), "files");
  // Named: the operator's choice stands (and the pack store then refuses to open).
  EXPECT_EQ(*ChooseLayout(fs, dir.path(), "pack"), "pack");

  TempDir packed;
  ASSERT_TRUE(fs->CreateDirs(packed.path() + "/pack").ok());
  ASSERT_TRUE(fs->WriteFileSynced(packed.path() + "/pack/0000000000000001.mvx", "", "x").ok());
  EXPECT_EQ(*ChooseLayout(fs, packed.path(), ""), "pack");
  ASSERT_TRUE(fs->CreateDirs(packed.path() + "/chunks").ok());
  EXPECT_EQ(*ChooseLayout(fs, packed.path(), ""), "pack");
}

}  // namespace
}  // namespace medvault::chunkserver
