// GarbageCollector against a fake ChunkServerClient: tombstone reclamation and orphan collection.
#include "metaserver/core/garbage_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "metaserver/core/registry.h"
#include "metaserver/testing/catalog_test_util.h"
#include "metaserver/testing/fake_chunk_servers.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using testing::Manifest;
using testing::Tags;

using testing::FakeChunkServers;

class GarbageCollectorTest : public CatalogTestBase {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<ChunkServerRegistry>(kv_.get(), &clock_, RegistryOptions(), 1);
    for (const char* id : {"s1", "s2", "s3"}) Beat(id);
    GcOptions options;
    options.list_page = 3;  // exercise paging
    options.delete_batch = 2;
    gc_ = std::make_unique<GarbageCollector>(catalog_.get(), registry_.get(), &servers_, &clock_,
                                             options);
  }

  static std::string Address(const std::string& server_id) { return "addr-" + server_id; }

  void Beat(const std::string& id) {
    v1::ChunkServerInfo info;
    info.set_server_id(id);
    info.set_address(Address(id));
    info.set_free_bytes(1ull << 40);
    ASSERT_TRUE(registry_->Heartbeat(info).ok());
  }

  // Commits an instance and puts its chunks on the servers its manifest names, `age` seconds old.
  v1::ObjectManifest Store(const std::string& sop, uint64_t age = 100000) {
    v1::ObjectManifest m = Manifest(1000, 2);
    MustCommit(Tags("1.9", "1.9.1", sop), m);
    for (const auto& c : m.chunks()) {
      for (const auto& s : c.server_ids()) servers_.Put(Address(s), c.chunk_id(), "x", age);
    }
    return m;
  }

  // Whether any server still holds any chunk of `m`.
  bool AnyReplicaLeft(const v1::ObjectManifest& m) {
    for (const auto& c : m.chunks()) {
      for (const auto& s : c.server_ids()) {
        if (servers_.Has(Address(s), c.chunk_id())) return true;
      }
    }
    return false;
  }
  bool AllReplicasLeft(const v1::ObjectManifest& m) {
    for (const auto& c : m.chunks()) {
      for (const auto& s : c.server_ids()) {
        if (!servers_.Has(Address(s), c.chunk_id())) return false;
      }
    }
    return true;
  }

  GcStats MustRun(uint64_t grace = 3600) {
    absl::StatusOr<GcStats> stats = gc_->RunOnce(grace);
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : GcStats();
  }

  FakeClock clock_;
  FakeChunkServers servers_;
  std::unique_ptr<ChunkServerRegistry> registry_;
  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(GarbageCollectorTest, ReclaimsConfirmedTombstonesOnly) {
  const v1::ObjectManifest confirmed = Store("1");
  const v1::ObjectManifest unconfirmed = Store("2");
  const v1::ObjectManifest live = Store("3");
  ASSERT_TRUE(catalog_->DeleteInstance("1", now_).ok());
  ASSERT_TRUE(catalog_->DeleteInstance("2", now_).ok());
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({confirmed.object_id()}).ok());

  GcStats stats = MustRun();
  EXPECT_EQ(stats.deleted_chunks_reclaimed, 6u);  // 2 chunks x 3 replicas
  EXPECT_EQ(stats.orphans_reclaimed, 0u);
  EXPECT_EQ(stats.tombstones_pending, 1u);
  EXPECT_FALSE(AnyReplicaLeft(confirmed));
  EXPECT_TRUE(AllReplicasLeft(unconfirmed));  // still referenced by its tombstone
  EXPECT_TRUE(AllReplicasLeft(live));
  EXPECT_FALSE(*catalog_->IsChunkReferenced(confirmed.chunks(0).chunk_id()));
  EXPECT_EQ(*catalog_->CountTombstones(), 1u);

  // Nothing more to do until the second key is confirmed; then it goes too.
  stats = MustRun();
  EXPECT_EQ(stats.deleted_chunks_reclaimed, 0u);
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({unconfirmed.object_id()}).ok());
  stats = MustRun();
  EXPECT_EQ(stats.deleted_chunks_reclaimed, 6u);
  EXPECT_EQ(stats.tombstones_pending, 0u);
  EXPECT_FALSE(AnyReplicaLeft(unconfirmed));
  EXPECT_TRUE(AllReplicasLeft(live));
}

TEST_F(GarbageCollectorTest, DeletesOldOrphansKeepsYoungAndReferenced) {
  const v1::ObjectManifest live = Store("1", /*age=*/1'000'000);
  for (int i = 0; i < 7; ++i)
    servers_.Put(Address("s1"), "old-orphan-" + std::to_string(i), "x", 3600 + i);
  servers_.Put(Address("s1"), "young-orphan", "x", 3599);
  servers_.Put(Address("s2"), "old-orphan-s2", "x", 10'000);

  GcStats stats = MustRun(3600);
  EXPECT_EQ(stats.orphans_reclaimed, 8u);
  for (int i = 0; i < 7; ++i)
    EXPECT_FALSE(servers_.Has(Address("s1"), "old-orphan-" + std::to_string(i)));
  EXPECT_FALSE(servers_.Has(Address("s2"), "old-orphan-s2"));
  EXPECT_TRUE(servers_.Has(Address("s1"), "young-orphan"));
  EXPECT_TRUE(AllReplicasLeft(live));
  EXPECT_GT(servers_.list_calls[Address("s1")], 1);  // paged

  // The grace override reaches the young one; the referenced chunks stay regardless.
  stats = MustRun(0);
  EXPECT_EQ(stats.orphans_reclaimed, 1u);
  EXPECT_FALSE(servers_.Has(Address("s1"), "young-orphan"));
  EXPECT_TRUE(AllReplicasLeft(live));
}

TEST_F(GarbageCollectorTest, DownServerLeavesTombstonePending) {
  const v1::ObjectManifest m = Store("1");
  ASSERT_TRUE(catalog_->DeleteInstance("1", now_).ok());
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({m.object_id()}).ok());
  servers_.Put(Address("s3"), "orphan-on-down-server", "x", 1'000'000);
  clock_.Advance(11'000'000);
  Beat("s1");
  Beat("s2");  // s3 is down

  GcStats stats = MustRun();
  EXPECT_EQ(stats.tombstones_pending, 1u);
  EXPECT_EQ(servers_.delete_calls[Address("s3")], 0);
  EXPECT_EQ(servers_.list_calls[Address("s3")], 0);
  EXPECT_TRUE(servers_.Has(Address("s3"), m.chunks(0).chunk_id()));
  EXPECT_TRUE(*catalog_->IsChunkReferenced(m.chunks(0).chunk_id()));

  Beat("s3");
  stats = MustRun();
  EXPECT_EQ(stats.tombstones_pending, 0u);
  EXPECT_FALSE(AnyReplicaLeft(m));
  EXPECT_EQ(stats.orphans_reclaimed, 1u);
}

TEST_F(GarbageCollectorTest, FailingServerLeavesTombstonePending) {
  const v1::ObjectManifest m = Store("1");
  ASSERT_TRUE(catalog_->DeleteInstance("1", now_).ok());
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({m.object_id()}).ok());
  servers_.failing.insert(Address("s2"));
  GcStats stats = MustRun();
  EXPECT_EQ(stats.tombstones_pending, 1u);
  EXPECT_EQ(stats.deleted_chunks_reclaimed, 4u);  // s1 and s3
  servers_.failing.clear();
  stats = MustRun();
  EXPECT_EQ(stats.tombstones_pending, 0u);
  EXPECT_FALSE(AnyReplicaLeft(m));
}

TEST_F(GarbageCollectorTest, UnregisteredServerDoesNotBlockReclamation) {
  v1::ObjectManifest m = Manifest(10, 1);
  m.mutable_chunks(0)->add_server_ids("decommissioned");
  MustCommit(Tags("1.9", "1.9.1", "1"), m);
  ASSERT_TRUE(catalog_->DeleteInstance("1", now_).ok());
  ASSERT_TRUE(catalog_->ConfirmKeysDestroyed({m.object_id()}).ok());
  GcStats stats = MustRun();
  EXPECT_EQ(stats.tombstones_pending, 0u);
  EXPECT_EQ(stats.deleted_chunks_reclaimed, 3u);
}

}  // namespace
}  // namespace medvault::metaserver
