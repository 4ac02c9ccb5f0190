// Scrubber and quarantine on a real directory: a pass re-verifies every chunk, quarantines the
// corrupt ones (later reads say NOT_FOUND, listings leave them out) and queues their ids for the
// heartbeat; good chunks are untouched.
#include "chunkserver/core/scrubber.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

class ScrubberTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.Open().ok()); }

  std::string Put(int i) {
    std::string id = RandomBytes(kChunkIdBytes).value();
    std::string data = "ciphertext " + std::to_string(i);
    EXPECT_TRUE(store_.Write(id, data, Crc32c(data)).ok());
    return id;
  }
  std::string PathOf(const std::string& id) {
    const std::string hex = ToHex(id);
    return dir_.path() + "/chunks/" + hex.substr(0, 2) + "/" + hex;
  }
  void FlipLastByte(const std::string& id) {
    std::fstream f(PathOf(id), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-1, std::ios::end);
    c ^= 0x40;
    f.write(&c, 1);
  }

  FakeClock clock_;
  medvault::testing::TempDir dir_;
  FileChunkStore store_{DefaultFilesystem(), &clock_, dir_.path()};
};

TEST_F(ScrubberTest, PassQuarantinesCorruptChunksAndReportsThem) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Put(i));
  FlipLastByte(ids[2]);
  FlipLastByte(ids[5]);
  uint64_t verified = 0, corrupt_seen = 0, passes = 0;
  ScrubberOptions options;
  options.list_page = 3;
  Scrubber scrubber(&store_, options, [&](const ScrubProgress& p) {
    if (p.pass_done) {
      ++passes;
      EXPECT_EQ(p.pass_fraction, 1.0);
      return;
    }
    ++verified;
    corrupt_seen += p.corrupt ? 1 : 0;
  });
  bool completed = false;
  EXPECT_EQ(scrubber.RunPass(/*paced=*/false, &completed), 2u);
  EXPECT_TRUE(completed);
  EXPECT_EQ(verified, 7u);
  EXPECT_EQ(corrupt_seen, 2u);
  EXPECT_EQ(passes, 1u);

  EXPECT_TRUE(absl::IsNotFound(store_.Read(ids[2]).status()));
  EXPECT_TRUE(store_.Read(ids[3]).ok());
  EXPECT_EQ(store_.chunk_count(), 5u);
  EXPECT_TRUE(std::ifstream(dir_.path() + "/quarantine/" + ToHex(ids[5])).good());
  std::vector<std::string> reported = store_.TakeQuarantined();
  std::sort(reported.begin(), reported.end());
  std::vector<std::string> expected = {ids[2], ids[5]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(reported, expected);
  EXPECT_TRUE(store_.TakeQuarantined().empty());

  // A second pass finds nothing more; a repair may write the chunk again.
  EXPECT_EQ(scrubber.RunPass(false), 0u);
  const std::string data = "ciphertext 2";
  EXPECT_TRUE(store_.Write(ids[2], data, Crc32c(data)).ok());
  EXPECT_EQ(store_.Read(ids[2])->data, data);
}

// Issue 14: two chunk files swapped (each intact, under the other's name) are both found.
TEST_F(ScrubberTest, PassFindsSwappedChunkFiles) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Put(i));
  const std::string a = PathOf(ids[1]), b = PathOf(ids[3]), tmp = a + ".swap";
  std::filesystem::rename(a, tmp);
  std::filesystem::rename(b, a);
  std::filesystem::rename(tmp, b);
  Scrubber scrubber(&store_, ScrubberOptions{}, nullptr);
  EXPECT_EQ(scrubber.RunPass(/*paced=*/false), 2u);
  std::vector<std::string> quarantined = store_.TakeQuarantined();
  std::sort(quarantined.begin(), quarantined.end());
  std::vector<std::string> expected = {ids[1], ids[3]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(quarantined, expected);
  for (int i : {0, 2, 4}) EXPECT_TRUE(store_.Read(ids[i]).ok());
}

// Issue 14: an operator can start a pass at once and follow it.
TEST_F(ScrubberTest, RequestedPassRunsAtOnceAndReportsItsProgress) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Put(i));
  ScrubberOptions options;
  options.pass_interval = absl::Hours(24);
  options.bytes_per_second = 1ull << 30;
  absl::Mutex mu;
  int passes = 0;
  Scrubber scrubber(&store_, options, [&](const ScrubProgress& p) {
    if (!p.pass_done) return;
    absl::MutexLock lock(&mu);
    ++passes;
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(scrubber.RequestPass())) << "not started";
  auto passes_done = [&](int n) {
    absl::MutexLock lock(&mu);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return passes >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  };
  scrubber.Start();
  ASSERT_TRUE(passes_done(1));
  ScrubStatus st = scrubber.status();
  EXPECT_FALSE(st.running);
  EXPECT_EQ(st.chunks_checked, 4u);
  EXPECT_EQ(st.chunks_total, 4u);
  EXPECT_EQ(st.bad_found, 0u);
  EXPECT_EQ(st.passes_completed, 1u);
  EXPECT_GT(st.finished_micros, 0);

  // Damage no read touches; the next pass would be a day away, but one is requested now.
  const std::string a = PathOf(ids[0]), b = PathOf(ids[2]), tmp = a + ".swap";
  std::filesystem::rename(a, tmp);
  std::filesystem::rename(b, a);
  std::filesystem::rename(tmp, b);
  ASSERT_TRUE(scrubber.RequestPass().ok());
  ASSERT_TRUE(passes_done(2));
  st = scrubber.status();
  EXPECT_FALSE(st.running);
  EXPECT_EQ(st.chunks_checked, 4u);
  EXPECT_EQ(st.bad_found, 2u);
  EXPECT_EQ(st.passes_completed, 2u);
  EXPECT_LE(st.started_micros, st.finished_micros);
  EXPECT_EQ(store_.TakeQuarantined().size(), 2u);
}

TEST_F(ScrubberTest, ReadOfCorruptChunkQuarantinesIt) {
  const std::string id = Put(1);
  FlipLastByte(id);
  EXPECT_TRUE(absl::IsDataLoss(store_.Read(id).status()));
  EXPECT_TRUE(absl::IsNotFound(store_.Read(id).status()));
  EXPECT_EQ(store_.TakeQuarantined(), std::vector<std::string>{id});
  store_.ReturnQuarantined({id});  // a heartbeat that failed puts it back
  EXPECT_EQ(store_.TakeQuarantined(), std::vector<std::string>{id});
}

TEST_F(ScrubberTest, StopEndsAPacedPass) {
  for (int i = 0; i < 3; ++i) Put(i);
  ScrubberOptions options;
  options.bytes_per_second = 1;  // hours per chunk
  Scrubber scrubber(&store_, options, nullptr);
  scrubber.Start();
  scrubber.Stop();  // returns promptly: the pacing wait wakes on stop
}

TEST(ChunkStoreQuotaTest, WritesBeyondTheQuotaAreResourceExhaustedAndNothingIsStored) {
  FakeClock clock;
  medvault::testing::TempDir dir;
  FileChunkStore store(DefaultFilesystem(), &clock, dir.path(), ChunkStoreOptions{100});
  ASSERT_TRUE(store.Open().ok());
  const std::string a(60, 'a'), b(60, 'b');
  const std::string id_a = RandomBytes(kChunkIdBytes).value(),
                    id_b = RandomBytes(kChunkIdBytes).value();
  ASSERT_TRUE(store.Write(id_a, a, Crc32c(a)).ok());
  absl::StatusOr<ChunkStoreStats> stats = store.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->capacity_bytes, 100u);
  EXPECT_EQ(stats->free_bytes, 100u - (kChunkHeaderBytes + 60));
  EXPECT_TRUE(absl::IsResourceExhausted(store.Write(id_b, b, Crc32c(b))));
  EXPECT_TRUE(absl::IsNotFound(store.Read(id_b).status()));
  EXPECT_EQ(store.Read(id_a)->data, a);
  // Space frees: the write goes through.
  ASSERT_TRUE(store.Delete({id_a}).ok());
  EXPECT_TRUE(store.Write(id_b, b, Crc32c(b)).ok());
}

}  // namespace
}  // namespace medvault::chunkserver
