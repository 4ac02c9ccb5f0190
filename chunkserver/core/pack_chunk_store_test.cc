#include "chunkserver/core/pack_chunk_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "chunkserver/core/scrubber.h"
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
  return ::medvault::chunkserver::testing::TestChunkId('\x22', first, last);
}

std::vector<std::string> ExtentFiles(const std::string& dir) {
  auto names = DefaultFilesystem()->ListDir(dir + "/pack");
  EXPECT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  return *names;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string file = *DefaultFilesystem()->ReadFile(path);
  ASSERT_LT(offset, file.size());
  file[offset] ^= 0x01;
  auto out = DefaultFilesystem()->NewWritableFile(path);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Append(file).ok());
  ASSERT_TRUE((*out)->Close().ok());
}

class PackChunkStoreTest : public ::testing::Test {
 protected:
  PackChunkStoreTest() : fs_(DefaultFilesystem()) {}
  void SetUp() override { store_ = Reopen(); }

  std::unique_ptr<PackChunkStore> Reopen(PackChunkStoreOptions options = {}) {
    store_.reset();  // closes the old files first
    auto store = std::make_unique<PackChunkStore>(&fs_, &clock_, dir_.path(), options);
    absl::Status s = store->Open();
    EXPECT_TRUE(s.ok()) << s;
    return store;
  }

  absl::Status Put(PackChunkStore* store, const std::string& id, const std::string& data) {
    return store->Write(id, data, Crc32c(data));
  }

  TempDir dir_;
  FakeClock clock_;
  FaultInjectingFilesystem fs_;
  std::unique_ptr<PackChunkStore> store_;
};

TEST_F(PackChunkStoreTest, RoundTripAppendsToOneExtent) {
  const std::string a = RandomData(100'000), b = RandomData(7);
  ASSERT_TRUE(Put(store_.get(), Id(1), a).ok());
  ASSERT_TRUE(Put(store_.get(), Id(2), b).ok());
  ASSERT_TRUE(Put(store_.get(), Id(3), "").ok());
  EXPECT_EQ(store_->Read(Id(1))->data, a);
  EXPECT_EQ(store_->Read(Id(2))->data, b);
  EXPECT_EQ(store_->Read(Id(3))->data, "");
  EXPECT_EQ(store_->Read(Id(1))->crc32c, Crc32c(a));
  EXPECT_EQ(store_->chunk_count(), 3u);
  // No file per chunk: one extent holding header, then records back to back.
  ASSERT_EQ(ExtentFiles(dir_.path()), std::vector<std::string>{"0000000000000001.mvx"});
  const std::string extent =
      *DefaultFilesystem()->ReadFile(dir_.path() + "/pack/" + "0000000000000001.mvx");
  EXPECT_EQ(extent.size(), kExtentHeaderBytes + 3 * kRecordHeaderBytes + a.size() + b.size());
  EXPECT_EQ(extent.substr(0, 4), "MVX1");
  EXPECT_EQ(extent.substr(kExtentHeaderBytes, 4), "MVR1");
  EXPECT_EQ(extent.substr(kExtentHeaderBytes + 24, kChunkIdBytes), Id(1));
  EXPECT_FALSE(DefaultFilesystem()->Exists(dir_.path() + "/chunks"));
}

TEST_F(PackChunkStoreTest, ErrorsMatchTheFileStore) {
  const std::string data = RandomData(1000);
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Write("short", "x", Crc32c("x"))));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Read(std::string(17, 'a')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Delete({Id(1), "bad"}).status()));
  EXPECT_TRUE(absl::IsDataLoss(store_->Write(Id(3), data, Crc32c(data) ^ 1)));
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(3)).status()));
  EXPECT_EQ(store_->chunk_count(), 0u);
  ASSERT_TRUE(Put(store_.get(), Id(4), data).ok());
  EXPECT_TRUE(Put(store_.get(), Id(4), data).ok());  // identical rewrite
  EXPECT_TRUE(absl::IsAlreadyExists(Put(store_.get(), Id(4), RandomData(1000))));
  EXPECT_EQ(store_->chunk_count(), 1u);
}

TEST_F(PackChunkStoreTest, AcknowledgedWritesAndDeletesSurviveReopen) {
  std::map<std::string, std::string> want;
  for (int i = 0; i < 30; ++i) {
    std::string data = RandomData(300 + i);
    ASSERT_TRUE(Put(store_.get(), Id(static_cast<uint8_t>(i * 7), i), data).ok());
    want[Id(static_cast<uint8_t>(i * 7), i)] = data;
  }
  std::vector<std::string> gone = {Id(0, 0), Id(7, 1), Id(70, 10)};
  EXPECT_EQ(*store_->Delete({gone[0], gone[1], gone[2], gone[2], Id(250)}), 3u);
  for (const std::string& id : gone) want.erase(id);
  fs_.DropUnsyncedData();
  store_ = Reopen();
  EXPECT_EQ(store_->chunk_count(), want.size());
  for (const auto& [id, data] : want) EXPECT_EQ(store_->Read(id)->data, data) << ToHex(id);
  for (const std::string& id : gone) EXPECT_TRUE(absl::IsNotFound(store_->Read(id).status()));
}

TEST_F(PackChunkStoreTest, CorruptRecordIsDataLossQuarantinedAndRepairable) {
  const std::string data = RandomData(4096), other = RandomData(100);
  ASSERT_TRUE(Put(store_.get(), Id(5), data).ok());
  ASSERT_TRUE(Put(store_.get(), Id(6), other).ok());
  FlipByte(dir_.path() + "/pack/0000000000000001.mvx", kExtentHeaderBytes + kRecordHeaderBytes + 9);
  absl::Status s = store_->Read(Id(5)).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find(ToHex(Id(5))), std::string::npos) << s;
  EXPECT_EQ(store_->TakeQuarantined(), std::vector<std::string>{Id(5)});
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(5)).status()));
  EXPECT_TRUE(DefaultFilesystem()->Exists(dir_.path() + "/quarantine/" + ToHex(Id(5))));
  EXPECT_EQ(store_->Read(Id(6))->data, other);  // its neighbour is intact
  // The quarantine is durable, and a repair write brings the chunk back.
  store_ = Reopen();
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(5)).status()));
  ASSERT_TRUE(Put(store_.get(), Id(5), data).ok());
  EXPECT_EQ(store_->Read(Id(5))->data, data);
}

// Rot in one record header costs that record, not the records behind it in the extent.
TEST_F(PackChunkStoreTest, RottenRecordHeaderLosesOnlyItsRecordAtReopen) {
  const std::string a = RandomData(3000), b = RandomData(2000), c = RandomData(10);
  ASSERT_TRUE(Put(store_.get(), Id(1), a).ok());
  ASSERT_TRUE(Put(store_.get(), Id(2), b).ok());
  ASSERT_TRUE(Put(store_.get(), Id(3), c).ok());
  store_ = Reopen();  // extent 1 is sealed; new writes go to extent 2
  ASSERT_TRUE(Put(store_.get(), Id(4), c).ok());
  store_.reset();
  // A bit of chunk 1's id flips: its header fails its CRC.
  FlipByte(dir_.path() + "/pack/0000000000000001.mvx", kExtentHeaderBytes + 30);
  store_ = Reopen();
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(1)).status()));
  for (const auto& [id, data] : {std::pair(Id(2), b), std::pair(Id(3), c), std::pair(Id(4), c)}) {
    absl::StatusOr<ChunkData> read = store_->Read(id);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->data, data);
  }
  EXPECT_EQ(store_->chunk_count(), 3u);
}

// Compaction passes a rotten header too: it quarantines the record it hid and copies the rest.
TEST_F(PackChunkStoreTest, CompactionSkipsARottenHeaderAndQuarantinesItsRecord) {
  const std::string big = RandomData(5000), b = RandomData(100), c = RandomData(100);
  ASSERT_TRUE(Put(store_.get(), Id(1), big).ok());
  ASSERT_TRUE(Put(store_.get(), Id(2), b).ok());
  ASSERT_TRUE(Put(store_.get(), Id(3), c).ok());
  store_ = Reopen();  // extent 1 is sealed
  FlipByte(dir_.path() + "/pack/0000000000000001.mvx",
           kExtentHeaderBytes + kRecordHeaderBytes + big.size() + 30);  // chunk 2's header
  ASSERT_TRUE(store_->Delete({Id(1)}).ok());
  absl::StatusOr<bool> compacted = store_->Compact();
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_TRUE(*compacted);
  EXPECT_FALSE(DefaultFilesystem()->Exists(dir_.path() + "/pack/0000000000000001.mvx"));
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(2)).status()));
  absl::StatusOr<ChunkData> read = store_->Read(Id(3));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, c);
  EXPECT_EQ(store_->chunk_count(), 1u);
  EXPECT_EQ(store_->TakeQuarantined(), std::vector<std::string>{Id(2)});
}

TEST_F(PackChunkStoreTest, CorruptStoredChunkIsReplacedByAVerifiedWrite) {
  const std::string data = RandomData(2000);
  ASSERT_TRUE(Put(store_.get(), Id(7), data).ok());
  FlipByte(dir_.path() + "/pack/0000000000000001.mvx", kExtentHeaderBytes + kRecordHeaderBytes);
  ASSERT_TRUE(Put(store_.get(), Id(7), data).ok());
  EXPECT_EQ(store_->Read(Id(7))->data, data);
  store_ = Reopen();
  EXPECT_EQ(store_->Read(Id(7))->data, data);
  EXPECT_EQ(store_->chunk_count(), 1u);
}

TEST_F(PackChunkStoreTest, ScrubberFindsRotInAnExtent) {
  const std::string data = RandomData(3000);
  ASSERT_TRUE(Put(store_.get(), Id(8), data).ok());
  ASSERT_TRUE(Put(store_.get(), Id(9), data).ok());
  FlipByte(dir_.path() + "/pack/0000000000000001.mvx",
           kExtentHeaderBytes + 2 * kRecordHeaderBytes + data.size() + 5);
  Scrubber scrubber(store_.get(), ScrubberOptions{}, nullptr, &clock_);
  EXPECT_EQ(scrubber.RunPass(/*paced=*/false), 1u);
  EXPECT_EQ(store_->TakeQuarantined(), std::vector<std::string>{Id(9)});
  EXPECT_EQ(store_->chunk_count(), 1u);
}

TEST_F(PackChunkStoreTest, FailedSyncFailsTheWriteAndLeavesNothingVisible) {
  const std::string data = RandomData(3000);
  fs_.FailNextSyncs(1);
  EXPECT_FALSE(Put(store_.get(), Id(10), data).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(10)).status()));
  EXPECT_EQ(store_->chunk_count(), 0u);
  ASSERT_TRUE(Put(store_.get(), Id(10), data).ok());  // a retry goes to a fresh extent
  EXPECT_EQ(store_->Read(Id(10))->data, data);
  store_ = Reopen();
  EXPECT_EQ(store_->Read(Id(10))->data, data);
}

TEST_F(PackChunkStoreTest, DiskFullIsResourceExhaustedAndRecovers) {
  const std::string data = RandomData(10'000);
  fs_.SetSpaceLeft(5000);
  absl::Status s = Put(store_.get(), Id(11), data);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(11)).status()));
  EXPECT_EQ(store_->chunk_count(), 0u);
  fs_.SetSpaceLeft(INT64_MAX);
  ASSERT_TRUE(Put(store_.get(), Id(11), data).ok());
  EXPECT_EQ(store_->Read(Id(11))->data, data);
  store_ = Reopen();  // the torn tail of the first extent is skipped
  EXPECT_EQ(store_->Read(Id(11))->data, data);
  EXPECT_EQ(store_->chunk_count(), 1u);
}

TEST_F(PackChunkStoreTest, QuotaCountsExtentBytes) {
  PackChunkStoreOptions options;
  options.max_bytes = 3000;
  store_ = Reopen(options);
  const std::string data = RandomData(1000);
  ASSERT_TRUE(Put(store_.get(), Id(12), data).ok());
  ASSERT_TRUE(Put(store_.get(), Id(13), data).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(Put(store_.get(), Id(14), data)));
  absl::StatusOr<ChunkStoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunk_count, 2u);
  EXPECT_EQ(stats->bytes_stored, 2 * (kRecordHeaderBytes + data.size()));
  EXPECT_EQ(stats->capacity_bytes, 3000u);
  EXPECT_EQ(stats->free_bytes, 3000 - kExtentHeaderBytes - 2 * (kRecordHeaderBytes + 1000));
  // Deleting is always possible, even with the quota full.
  EXPECT_EQ(*store_->Delete({Id(12)}), 1u);
}

TEST_F(PackChunkStoreTest, ListPaginatesInIdOrderWithAgeByTheStoreClock) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Put(store_.get(), Id(200 - i * 3), "x").ok());
  clock_.Advance(90'000'000);
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    absl::StatusOr<ChunkList> page = store_->List(after, 10);
    ASSERT_TRUE(page.ok());
    for (const ChunkListEntry& e : page->entries) {
      seen.push_back(e.id);
      EXPECT_EQ(e.size, kRecordHeaderBytes + 1);
      EXPECT_EQ(e.age_seconds, 90u);
    }
    if (!page->more) break;
    after = seen.back();
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

// Holds the next data sync until a number of appends have reached the files, so that writers
// pile up behind it (synchronised on events, not on time).
class GatedSyncFilesystem : public FaultInjectingFilesystem {
 public:
  using FaultInjectingFilesystem::FaultInjectingFilesystem;

  void HoldNextSyncUntilAppends(int appends) {
    absl::MutexLock lock(&mu_);
    hold_ = true;
    target_ = appends_ + appends;
  }
  int syncs() {
    absl::MutexLock lock(&mu_);
    return syncs_;
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    auto base = FaultInjectingFilesystem::NewWritableFile(path);
    if (!base.ok()) return base.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(*base)));
  }

 private:
  class File : public WritableFile {
   public:
    File(GatedSyncFilesystem* fs, std::unique_ptr<WritableFile> base)
        : fs_(fs), base_(std::move(base)) {}
    absl::Status Append(absl::string_view data) override {
      absl::Status s = base_->Append(data);
      absl::MutexLock lock(&fs_->mu_);
      ++fs_->appends_;
      return s;
    }
    absl::Status Sync() override {
      {
        absl::MutexLock lock(&fs_->mu_);
        ++fs_->syncs_;
        if (fs_->hold_) {
          fs_->hold_ = false;
          fs_->mu_.Await(absl::Condition(
              +[](GatedSyncFilesystem* fs) { return fs->appends_ >= fs->target_; }, fs_));
        }
      }
      return base_->Sync();
    }
    absl::Status Close() override { return base_->Close(); }

   private:
    GatedSyncFilesystem* const fs_;
    std::unique_ptr<WritableFile> base_;
  };

  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int appends_ ABSL_GUARDED_BY(mu_) = 0;
  int target_ ABSL_GUARDED_BY(mu_) = 0;
  int syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(PackGroupCommitTest, WritersWaitingBehindASyncShareTheNextOne) {
  constexpr int kWriters = 8;
  TempDir dir;
  FakeClock clock;
  GatedSyncFilesystem fs(DefaultFilesystem());
  PackChunkStore store(&fs, &clock, dir.path());
  ASSERT_TRUE(store.Open().ok());
  ASSERT_TRUE(store.Write(Id(99), "warm", Crc32c("warm")).ok());  // the extent exists
  const int syncs_before = fs.syncs();
  // Each write appends a header and a payload; the first sync waits for all of them.
  fs.HoldNextSyncUntilAppends(2 * kWriters);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      const std::string data = RandomData(50'000);
      if (store.Write(Id(100 + i), data, Crc32c(data)).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kWriters);
  // One sync for the first writer, one for the seven that appended while it ran.
  EXPECT_EQ(fs.syncs() - syncs_before, 2);
  EXPECT_EQ(store.chunk_count(), kWriters + 1u);
}

TEST_F(PackChunkStoreTest, CompactionReclaimsDeadSpaceAndKeepsEverythingElse) {
  PackChunkStoreOptions options;
  options.extent_bytes = 4096;
  options.compact_dead_fraction = 0.5;
  store_ = Reopen(options);
  std::map<std::string, std::string> want;
  std::vector<std::string> deleted;
  for (int i = 0; i < 40; ++i) {
    std::string data = RandomData(900);
    ASSERT_TRUE(Put(store_.get(), Id(i, 1), data).ok());
    want[Id(i, 1)] = data;
  }
  const size_t extents_before = ExtentFiles(dir_.path()).size();
  ASSERT_GT(extents_before, 5u);
  for (int i = 0; i < 40; ++i) {
    if (i % 4 == 0) continue;
    deleted.push_back(Id(i, 1));
    want.erase(Id(i, 1));
  }
  EXPECT_EQ(*store_->Delete(deleted), deleted.size());
  const uint64_t disk_before = store_->pack_stats().disk_bytes;
  int compactions = 0;
  for (;;) {
    absl::StatusOr<bool> compacted = store_->Compact();
    ASSERT_TRUE(compacted.ok()) << compacted.status();
    if (!*compacted) break;
    ++compactions;
  }
  EXPECT_GT(compactions, 0);
  EXPECT_LT(store_->pack_stats().disk_bytes, disk_before / 2);
  EXPECT_LT(ExtentFiles(dir_.path()).size(), extents_before);
  for (const auto& [id, data] : want) EXPECT_EQ(store_->Read(id)->data, data);
  // After a restart nothing deleted comes back and nothing live is lost.
  store_ = Reopen(options);
  EXPECT_EQ(store_->chunk_count(), want.size());
  for (const auto& [id, data] : want) EXPECT_EQ(store_->Read(id)->data, data);
  for (const std::string& id : deleted) EXPECT_TRUE(absl::IsNotFound(store_->Read(id).status()));
}

// A quiet server never fills its open extent: its dead space must come back all the same.
TEST_F(PackChunkStoreTest, CompactionReclaimsTheOpenExtent) {
  const std::string data = RandomData(5000);
  ASSERT_TRUE(Put(store_.get(), Id(30), data).ok());
  ASSERT_TRUE(Put(store_.get(), Id(31), data).ok());
  ASSERT_EQ(*store_->Delete({Id(30), Id(31)}), 2u);
  const uint64_t before = store_->pack_stats().disk_bytes;
  absl::StatusOr<bool> compacted = store_->Compact();
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_TRUE(*compacted);
  EXPECT_LT(store_->pack_stats().disk_bytes, before - 2 * data.size());
  ASSERT_TRUE(Put(store_.get(), Id(32), data).ok());  // appends go to a new extent
  store_ = Reopen();
  EXPECT_EQ(store_->chunk_count(), 1u);
  EXPECT_TRUE(absl::IsNotFound(store_->Read(Id(30)).status()));
  EXPECT_EQ(store_->Read(Id(32))->data, data);
}

// Random writes, rewrites, deletes, compactions and restarts against a model, with extents of a
// few records so that every path (rollover, tombstones kept and dropped by compaction) is hit.
TEST_F(PackChunkStoreTest, RandomOperationsMatchAModel) {
  PackChunkStoreOptions options;
  options.extent_bytes = 2048;
  options.compact_dead_fraction = 0.3;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    store_ = Reopen(options);
    std::map<std::string, std::string> model;
    absl::StatusOr<ChunkList> stored = store_->List("", 0);
    ASSERT_TRUE(stored.ok());
    for (const auto& e : stored->entries) model[e.id] = store_->Read(e.id)->data;
    for (int op = 0; op < 250; ++op) {
      const std::string id = Id(static_cast<uint8_t>(rng() % 24), static_cast<uint8_t>(seed));
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
        case 3: {
          std::string data = RandomData(rng() % 700);
          absl::Status s = Put(store_.get(), id, data);
          if (model.count(id)) {
            ASSERT_TRUE(absl::IsAlreadyExists(s) || (s.ok() && model[id] == data)) << s;
          } else {
            ASSERT_TRUE(s.ok()) << s;
            model[id] = data;
          }
          break;
        }
        case 4:
        case 5: {
          ASSERT_EQ(*store_->Delete({id}), model.erase(id));
          break;
        }
        case 6:
        case 7: {
          ASSERT_TRUE(store_->Compact().ok());
          break;
        }
        case 8: {
          store_ = Reopen(options);
          break;
        }
        default: {
          absl::StatusOr<ChunkData> read = store_->Read(id);
          if (model.count(id)) {
            ASSERT_TRUE(read.ok()) << read.status();
            ASSERT_EQ(read->data, model[id]);
          } else {
            ASSERT_TRUE(absl::IsNotFound(read.status())) << read.status();
          }
        }
      }
      ASSERT_EQ(store_->chunk_count(), model.size()) << "seed " << seed << " op " << op;
    }
    store_ = Reopen(options);
    ASSERT_EQ(store_->chunk_count(), model.size()) << "seed " << seed;
    for (const auto& [id, data] : model) ASSERT_EQ(store_->Read(id)->data, data);
  }
}

// The header and the payload of a record are read apart: each is still checked on every read, and
// an extent cut short under a live record loses that record (DATA_LOSS), not its neighbours.
TEST_F(PackChunkStoreTest, ReadsCheckHeaderAndPayloadApart) {
  const std::string a = RandomData(3000), b = RandomData(5000);
  ASSERT_TRUE(Put(store_.get(), Id(1), a).ok());
  ASSERT_TRUE(Put(store_.get(), Id(2), b).ok());
  const std::string extent = dir_.path() + "/pack/0000000000000001.mvx";
  // The extent loses the end of the second record's payload.
  std::string file = *DefaultFilesystem()->ReadFile(extent);
  file.resize(file.size() - 10);
  auto out = DefaultFilesystem()->NewWritableFile(extent);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Append(file).ok());
  ASSERT_TRUE((*out)->Close().ok());
  absl::Status s = store_->Read(Id(2)).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s;
  absl::StatusOr<ChunkData> read = store_->Read(Id(1));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, a);
  // A bit of the first record's header (its write time) rots while the store serves it.
  FlipByte(extent, kExtentHeaderBytes + 20);
  s = store_->Read(Id(1)).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

}  // namespace
}  // namespace medvault::chunkserver
