// Unit tests of the manifest cache (manifest_cache.h) with a fake clock, and of reads through it
// (ImageStoreCore::Get, SetRetrieval) against the in-memory fakes, two cores over the same fakes
// standing for two frontends: a delete through one is never defeated by the other's cache.
#include "frontend/core/manifest_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "frontend/core/image_store_core.h"
#include "frontend/testing/core_fakes.h"

namespace medvault::frontend {
namespace {

ManifestCache::Entry Manifest(const std::string& object_id) {
  auto meta = std::make_shared<v1::GetInstanceMetaResponse>();
  meta->mutable_manifest()->set_object_id(object_id);
  return meta;
}

TEST(ManifestCacheTest, AnEntryIsUsedUntilItsTtlThenLookedUpAgain) {
  FakeClock clock;
  ManifestCache cache(ManifestCacheOptions{10, absl::Seconds(60)}, &clock);
  EXPECT_EQ(cache.Find("1.2.3"), nullptr);
  cache.Insert("1.2.3", Manifest("a"));
  clock.Advance(59'999'999);
  ASSERT_NE(cache.Find("1.2.3"), nullptr);
  EXPECT_EQ(cache.Find("1.2.3")->manifest().object_id(), "a");
  clock.Advance(1);
  EXPECT_EQ(cache.Find("1.2.3"), nullptr) << "an entry outlived its ttl";
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits().load(), 2u);
  EXPECT_EQ(cache.misses().load(), 2u);
}

TEST(ManifestCacheTest, TheLeastRecentlyUsedEntryMakesRoom) {
  FakeClock clock;
  ManifestCache cache(ManifestCacheOptions{2, absl::Seconds(60)}, &clock);
  cache.Insert("1", Manifest("a"));
  cache.Insert("2", Manifest("b"));
  ASSERT_NE(cache.Find("1"), nullptr);  // "2" is now the least recently used
  cache.Insert("3", Manifest("c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find("1"), nullptr);
  EXPECT_EQ(cache.Find("2"), nullptr);
  EXPECT_NE(cache.Find("3"), nullptr);
  cache.Insert("3", Manifest("d"));  // replaced, its ttl renewed
  EXPECT_EQ(cache.Find("3")->manifest().object_id(), "d");
  cache.Erase("3");
  EXPECT_EQ(cache.Find("3"), nullptr);
}

TEST(ManifestCacheTest, ADisabledCacheHoldsNothing) {
  FakeClock clock;
  ManifestCache cache(ManifestCacheOptions{0, absl::Seconds(60)}, &clock);
  cache.Insert("1", Manifest("a"));
  EXPECT_EQ(cache.Find("1"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

// A metaserver that counts its lookups.
class CountingMeta : public FakeMeta {
 public:
  using FakeMeta::FakeMeta;
  absl::StatusOr<v1::GetInstanceMetaResponse> GetInstance(const std::string& uid) override {
    ++lookups;
    return FakeMeta::GetInstance(uid);
  }
  std::atomic<int> lookups{0};
};

class CachedReadTest : public ::testing::Test {
 protected:
  static FrontendOptions Options() {
    FrontendOptions o;
    o.chunk_size = 64 << 10;
    o.manifest_cache_entries = 100;
    o.manifest_cache_ttl = absl::Seconds(60);
    return o;
  }
  CachedReadTest()
      : meta_(&keys_),
        a_(&keys_, &meta_, &chunks_, Options(), &clock_),
        b_(&keys_, &meta_, &chunks_, Options(), &clock_) {}

  void SetUp() override {
    absl::StatusOr<v1::PutInstanceResponse> put = b_.Put(file_);
    ASSERT_TRUE(put.ok()) << put.status();
    uid_ = put->sop_instance_uid();
  }

  // Reads the instance through `core`; `answered` counts the sink's calls (info included).
  absl::StatusOr<std::string> Read(ImageStoreCore& core, int* answered = nullptr) {
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(uid_);
    std::string out;
    absl::Status s = core.Get(req, [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) {
      if (answered != nullptr) ++*answered;
      out.append(data.data(), data.size());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status Delete(ImageStoreCore& core) {
    v1::DeleteInstanceRequest req;
    req.set_sop_instance_uid(uid_);
    return core.DeleteInstance(req, "client/deleter").status();
  }

  FakeClock clock_;
  FakeKeys keys_;
  CountingMeta meta_;
  FakeChunks chunks_;
  ImageStoreCore a_;                                     // the frontend that reads
  ImageStoreCore b_;                                     // another frontend
  std::string file_ = ReadTestFile("waveform_ecg.dcm");  // five chunks at 64 KiB
  std::string uid_;
};

TEST_F(CachedReadTest, ASecondReadSkipsTheLookup) {
  ASSERT_EQ(Read(a_).value_or(""), file_);
  ASSERT_EQ(Read(a_).value_or(""), file_);
  EXPECT_EQ(meta_.lookups.load(), 1);
  EXPECT_EQ(a_.manifest_cache().hits().load(), 1u);
  clock_.Advance(60'000'000);
  ASSERT_EQ(Read(a_).value_or(""), file_);
  EXPECT_EQ(meta_.lookups.load(), 2) << "an expired manifest was used";
}

TEST_F(CachedReadTest, ADeleteThroughAnotherFrontendIsNotDefeatedByTheCache) {
  ASSERT_EQ(Read(a_).value_or(""), file_);  // a_ caches the manifest
  ASSERT_TRUE(Delete(b_).ok());
  int answered = 0;
  absl::StatusOr<std::string> read = Read(a_, &answered);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
  EXPECT_EQ(answered, 0) << "a deleted instance's info or bytes reached the client";
  EXPECT_EQ(a_.manifest_cache().hits().load(), 1u) << "the cached manifest was not tried";
  EXPECT_EQ(a_.manifest_cache().size(), 0u) << "the manifest of a deleted instance stays cached";
}

TEST_F(CachedReadTest, AnInstanceStoredAgainIsReadWithItsNewManifest) {
  ASSERT_EQ(Read(a_).value_or(""), file_);
  ASSERT_TRUE(Delete(b_).ok());
  ASSERT_TRUE(b_.Put(file_).ok());  // a new object and key under the same UID
  EXPECT_EQ(Read(a_).value_or(""), file_);
  EXPECT_EQ(meta_.lookups.load(), 2);
}

TEST_F(CachedReadTest, ReplicasMovedSinceTheLookupAreFoundAgain) {
  ASSERT_EQ(Read(a_).value_or(""), file_);
  // Repair moved every replica of every chunk to other servers ("s9" at "cs9").
  v1::GetInstanceMetaResponse& stored = meta_.instances.at(uid_);
  for (v1::ChunkLocation& chunk : *stored.mutable_manifest()->mutable_chunks()) {
    std::string bytes;
    for (const std::string& server : chunk.server_ids()) {
      const std::string address = stored.server_addresses().at(server);
      bytes = chunks_.stored.at({address, chunk.chunk_id()});
      chunks_.stored.erase({address, chunk.chunk_id()});
    }
    chunks_.stored[{"cs9", chunk.chunk_id()}] = bytes;
    chunk.clear_server_ids();
    chunk.add_server_ids("s9");
  }
  (*stored.mutable_server_addresses())["s9"] = "cs9";
  EXPECT_EQ(Read(a_).value_or(""), file_);
  EXPECT_EQ(meta_.lookups.load(), 2);
}

}  // namespace
}  // namespace medvault::frontend
