// Placement leases (issue 20): a frontend places small puts from placements fetched ahead. The
// invariants: a leased placement is handed out once, never after it expired or was dropped, never
// by a frontend that restarted; and every acknowledged put is committed and reads back.
#include "frontend/core/chunk_placer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "frontend/core/image_store_core.h"
#include "frontend/testing/core_fakes.h"

namespace medvault::frontend {
namespace {

constexpr int64_t kSecond = 1'000'000;

// Every chunk id `placed` hands out, appended to `ids`.
void Collect(const v1::AllocateChunksResponse& placed, std::vector<std::string>* ids) {
  for (const v1::ChunkPlacement& p : placed.chunks()) ids->push_back(p.chunk_id());
}

class ChunkPlacerTest : public ::testing::Test {
 protected:
  ChunkPlacerTest() : meta_(&keys_) {}
  FakeClock clock_;
  FakeKeys keys_;
  FakeMeta meta_;
};

TEST_F(ChunkPlacerTest, LeasedPlacementsAreHandedOutOnceAndNeverAfterTheyExpire) {
  ChunkPlacer placer(&meta_, 3, &clock_, PlacementLease{8, kSecond});
  std::vector<std::string> handed;
  for (int i = 0; i < 20; ++i) {  // 20 one-chunk puts: three refills of 8
    absl::StatusOr<v1::AllocateChunksResponse> placed = placer.Take(1);
    ASSERT_TRUE(placed.ok()) << placed.status();
    ASSERT_EQ(placed->chunks_size(), 1);
    EXPECT_EQ(placed->chunks(0).servers_size(), 3);
    Collect(*placed, &handed);
  }
  EXPECT_EQ(meta_.allocations, (std::vector<uint32_t>{8, 8, 8}));
  // Two puts of two chunks: the lease's last four, then the lease expires with four unused.
  for (int i = 0; i < 2; ++i) Collect(placer.Take(2).value(), &handed);
  ASSERT_EQ(meta_.allocations.size(), 3u);
  Collect(placer.Take(1).value(), &handed);
  ASSERT_EQ(meta_.allocations.size(), 4u);
  const std::vector<std::string> unused(meta_.placed_ids.begin() + 25, meta_.placed_ids.end());
  ASSERT_EQ(unused.size(), 7u);
  clock_.Advance(kSecond);  // the seven left are now too old
  Collect(placer.Take(2).value(), &handed);
  EXPECT_EQ(meta_.allocations.size(), 5u) << "expired placements must not be handed out";

  // The frontend restarts: a new placer asks afresh and never hands out an id of the old one.
  ChunkPlacer restarted(&meta_, 3, &clock_, PlacementLease{8, kSecond});
  for (int i = 0; i < 10; ++i) Collect(restarted.Take(1).value(), &handed);

  const std::set<std::string> distinct(handed.begin(), handed.end());
  EXPECT_EQ(distinct.size(), handed.size()) << "a chunk id was handed out twice";
  for (const std::string& id : unused)
    EXPECT_EQ(distinct.count(id), 0u) << "an expired id was used";
}

TEST_F(ChunkPlacerTest, ADroppedLeaseIsNeverUsedAndLargeOrUnleasedCountsAskTheMetaserver) {
  ChunkPlacer placer(&meta_, 3, &clock_, PlacementLease{8, kSecond});
  ASSERT_TRUE(placer.Take(1).ok());
  const std::vector<std::string> dropped(meta_.placed_ids.begin() + 1, meta_.placed_ids.end());
  placer.DropLease();  // a write failed on a server the lease may name
  std::vector<std::string> handed;
  Collect(placer.Take(1).value(), &handed);
  EXPECT_EQ(meta_.allocations, (std::vector<uint32_t>{8, 8}));
  for (const std::string& id : dropped) EXPECT_NE(handed[0], id);
  // More than a quarter of a lease: placed by its own call, exactly as many as asked for.
  EXPECT_FALSE(placer.Leases(3));
  EXPECT_EQ(placer.Take(3).value().chunks_size(), 3);
  EXPECT_EQ(meta_.allocations.back(), 3u);
  // No lease configured: every Take is its own call.
  ChunkPlacer unleased(&meta_, 3, &clock_);
  EXPECT_FALSE(unleased.Leases(1));
  ASSERT_TRUE(unleased.Take(1).ok());
  EXPECT_EQ(meta_.allocations.back(), 1u);
}

// Through the put path: small puts share one AllocateChunks; each acknowledged put is committed
// with its own chunk ids and reads back byte-exact, across an expiry, a failed server and a
// restart of the frontend; a re-send of a stored instance is still settled by the commit.
TEST_F(ChunkPlacerTest, SmallPutsPlaceFromTheLeaseAndEveryAcknowledgedPutReadsBack) {
  FakeChunks chunks;
  meta_.servers = 4;  // one may fail and three remain
  FrontendOptions options;
  options.chunk_size = 64 << 10;
  options.dek_batch = 4;
  options.placement_lease_chunks = 64;
  options.placement_lease_micros = kSecond;
  const std::string ct = ReadTestFile("CT_small.dcm");  // ~39 KB: one chunk
  auto core = std::make_unique<ImageStoreCore>(&keys_, &meta_, &chunks, options, &clock_);
  std::vector<std::string> acknowledged;
  auto put_variant = [&](ImageStoreCore* c, int n) {
    // CT_small with its SOP Instance UID's last digits made unique (same length).
    std::string bytes = ct;
    const std::string uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";
    const std::string other = uid.substr(0, uid.size() - 3) + std::to_string(100 + n);
    for (size_t at = bytes.find(uid); at != std::string::npos; at = bytes.find(uid, at))
      bytes.replace(at, uid.size(), other);  // in the meta header and the data set
    absl::StatusOr<v1::PutInstanceResponse> put = c->Put(bytes);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_FALSE(put->already_stored());
    acknowledged.push_back(put->sop_instance_uid());
  };
  for (int n = 0; n < 10; ++n) put_variant(core.get(), n);
  EXPECT_EQ(meta_.allocations, std::vector<uint32_t>{64}) << "ten small puts, one placement call";
  clock_.Advance(kSecond);  // the lease expires between puts
  put_variant(core.get(), 10);
  EXPECT_EQ(meta_.allocations.size(), 2u);
  chunks.down.insert("cs0");  // a write fails: the chunk is placed again, and the lease dropped
  put_variant(core.get(), 11);
  chunks.down.clear();
  const size_t after_failure = meta_.allocations.size();
  put_variant(core.get(), 12);
  EXPECT_EQ(meta_.allocations.size(), after_failure + 1) << "the dropped lease was used";
  core = std::make_unique<ImageStoreCore>(&keys_, &meta_, &chunks, options, &clock_);  // restart
  put_variant(core.get(), 13);

  std::set<std::string> ids;
  size_t chunk_count = 0;
  for (const std::string& uid : acknowledged) {
    ASSERT_EQ(meta_.instances.count(uid), 1u) << "an acknowledged put is not committed";
    for (const v1::ChunkLocation& c : meta_.instances[uid].manifest().chunks()) {
      ids.insert(c.chunk_id());
      ++chunk_count;
    }
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(uid);
    std::string back;
    ASSERT_TRUE(core->Get(req,
                          [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) {
                            back.append(data.data(), data.size());
                            return absl::OkStatus();
                          })
                    .ok());
    EXPECT_EQ(back.size(), ct.size());
  }
  EXPECT_EQ(ids.size(), chunk_count) << "two objects share a chunk id";
  EXPECT_EQ(acknowledged.size(), 14u);

  // A re-send of a stored small instance: no hint from a leased placement, the commit settles it.
  const int commits = meta_.commits;
  absl::StatusOr<v1::PutInstanceResponse> again = core->Put(ct);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->already_stored());
  again = core->Put(ct);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_stored());
  EXPECT_EQ(meta_.commits, commits + 1);
}

}  // namespace
}  // namespace medvault::frontend
