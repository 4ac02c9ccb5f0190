// Repairer against in-memory chunk servers, a real catalog (RocksDB) and a fake clock: down,
// missing and corrupt replicas are replaced from good ones in distinct domains; copies a manifest
// does not list are dropped once the chunk is whole; draining moves replicas away; the copy rate
// is throttled.
#include "metaserver/core/repairer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "metaserver/testing/catalog_test_util.h"
#include "metaserver/testing/fake_chunk_servers.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using testing::FakeChunkServers;
using testing::Tags;

class RepairerTest : public CatalogTestBase {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<ChunkServerRegistry>(kv_.get(), &clock_, RegistryOptions(), 3);
    for (const char* id : {"s1", "s2", "s3", "s4"}) Beat(id);
    RepairOptions options;
    options.list_page = 2;  // exercise paging
    options.parallelism = 2;
    repairer_ =
        std::make_unique<Repairer>(catalog_.get(), registry_.get(), &servers_, &clock_, options);
  }

  static std::string Address(const std::string& id) { return "addr-" + id; }

  void Beat(const std::string& id, const std::string& domain = "") {
    if (!domain.empty()) domains_[id] = domain;
    if (domains_.count(id) == 0) domains_[id] = "rack-" + id;
    v1::ChunkServerInfo info;
    info.set_server_id(id);
    info.set_address(Address(id));
    info.set_failure_domain(domains_[id]);
    info.set_free_bytes(1ull << 40);
    ASSERT_TRUE(registry_->Heartbeat(info).ok());
  }

  // Everyone but `down` heartbeats after the down interval has passed.
  void MarkDown(const std::string& down) {
    clock_.Advance(RegistryOptions().down_after_micros);
    for (const char* id : {"s1", "s2", "s3", "s4", "s5"}) {
      if (id != down && registry_->Find(id).has_value()) Beat(id);
    }
  }

  // Commits an object with `chunks` chunks on s1..s3 and stores their bytes there.
  v1::ObjectManifest Store(const std::string& n, int chunks = 2) {
    v1::ObjectManifest m;
    m.set_object_id(RandomBytes(16).value());
    m.set_size(100 * chunks);
    m.set_sha256(Sha256(n));
    m.set_chunk_size(100);
    for (int i = 0; i < chunks; ++i) {
      const std::string data = "ciphertext-" + n + "-" + std::to_string(i);
      v1::ChunkLocation* c = m.add_chunks();
      c->set_chunk_id(RandomBytes(16).value());
      c->set_stored_size(data.size());
      c->set_crc32c(Crc32c(data));
      for (const char* s : {"s1", "s2", "s3"}) {
        c->add_server_ids(s);
        servers_.Put(Address(s), c->chunk_id(), data);
      }
    }
    MustCommit(Tags("1.2.3", "1.2.3.1", absl::StrCat("1.2.3.1.", static_cast<int>(n[0]))), m);
    return m;
  }

  v1::ObjectManifest Current(const v1::ObjectManifest& m) {
    v1::ObjectManifest out;
    std::unique_ptr<KvReader> snapshot = catalog_->Snapshot();
    EXPECT_TRUE(Catalog::ForEachManifest(*snapshot, [&](const v1::ObjectManifest& x) {
                  if (x.object_id() == m.object_id()) out = x;
                  return true;
                }).ok());
    return out;
  }

  std::set<std::string> ServersOf(const v1::ChunkLocation& c) {
    return std::set<std::string>(c.server_ids().begin(), c.server_ids().end());
  }

  // Every chunk of `m` is listed on 3 distinct servers that hold its exact bytes.
  void ExpectWhole(const v1::ObjectManifest& m) {
    const v1::ObjectManifest current = Current(m);
    for (const v1::ChunkLocation& c : current.chunks()) {
      EXPECT_EQ(ServersOf(c).size(), 3u);
      for (const std::string& s : c.server_ids()) {
        absl::StatusOr<ChunkBytes> b = servers_.ReadChunk(Address(s), c.chunk_id());
        ASSERT_TRUE(b.ok()) << s;
        EXPECT_EQ(b->crc32c, c.crc32c());
      }
    }
  }

  RepairStats MustRun() {
    absl::StatusOr<RepairStats> stats = repairer_->RunOnce();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : RepairStats();
  }

  FakeClock clock_;
  FakeChunkServers servers_;
  std::map<std::string, std::string> domains_;
  std::unique_ptr<ChunkServerRegistry> registry_;
  std::unique_ptr<Repairer> repairer_;
};

TEST_F(RepairerTest, WholeChunksNeedNothing) {
  const v1::ObjectManifest m = Store("a");
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.chunks, 2u);
  EXPECT_EQ(stats.under_replicated, 0u);
  EXPECT_EQ(stats.replicas_written, 0u);
  EXPECT_EQ(servers_.writes[Address("s4")], 0);
}

TEST_F(RepairerTest, DownServerReplicasAreCopiedToAnotherServer) {
  const v1::ObjectManifest m = Store("a", 3);
  MarkDown("s3");
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.under_replicated, 3u);
  EXPECT_EQ(stats.repaired, 3u);
  EXPECT_EQ(stats.still_under_replicated, 0u);
  EXPECT_GT(stats.repair_bytes, 0u);
  const v1::ObjectManifest current = Current(m);
  for (const v1::ChunkLocation& c : current.chunks()) {
    EXPECT_EQ(ServersOf(c), (std::set<std::string>{"s1", "s2", "s4"}));
  }
  ExpectWhole(m);
  EXPECT_EQ(MustRun().under_replicated, 0u);

  // s3 comes back with its old copies: they are extra now and dropped.
  Beat("s3");
  stats = MustRun();
  EXPECT_EQ(stats.extra_replicas_dropped, 3u);
  for (const v1::ChunkLocation& c : m.chunks())
    EXPECT_FALSE(servers_.Has(Address("s3"), c.chunk_id()));
  ExpectWhole(m);
}

TEST_F(RepairerTest, ServerBackBeforeRepairCountsAgain) {
  const v1::ObjectManifest m = Store("a");
  servers_.failing.insert(Address("s4"));  // the only possible target refuses
  MarkDown("s3");
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.under_replicated, 2u);
  EXPECT_EQ(stats.still_under_replicated, 2u);
  // The down server's replica stays listed: it may come back.
  const v1::ObjectManifest current = Current(m);
  for (const v1::ChunkLocation& c : current.chunks()) EXPECT_EQ(ServersOf(c).count("s3"), 1u);
  Beat("s3");
  EXPECT_EQ(MustRun().under_replicated, 0u);
  ExpectWhole(m);
}

TEST_F(RepairerTest, MissingAndReportedCorruptReplicasAreReplaced) {
  const v1::ObjectManifest m = Store("a");
  const std::string& lost = m.chunks(0).chunk_id();
  const std::string& rotten = m.chunks(1).chunk_id();
  ASSERT_TRUE(servers_.DeleteChunks(Address("s2"), {lost}).ok());  // a deleted chunk file
  servers_.Put(Address("s1"), rotten, "flipped bytes");            // corrupt, reported by a reader
  repairer_->ReportSuspect(rotten, "s1");
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.bad_replicas, 2u);
  EXPECT_EQ(stats.repaired, 2u);
  // Rewritten on the same server or copied to s4: either way 3 good replicas (the corrupt bytes
  // are gone from s1: ExpectWhole checks every listed replica's CRC).
  ExpectWhole(m);
}

TEST_F(RepairerTest, BadReplicaIsRewrittenInPlaceWhenNoOtherServerIsFree) {
  servers_.failing.insert(Address("s4"));
  const v1::ObjectManifest m = Store("a", 1);
  ASSERT_TRUE(servers_.DeleteChunks(Address("s2"), {m.chunks(0).chunk_id()}).ok());
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.repaired, 1u);
  EXPECT_TRUE(servers_.Has(Address("s2"), m.chunks(0).chunk_id()));  // not deleted again afterwards
  servers_.failing.clear();
  ExpectWhole(m);
}

TEST_F(RepairerTest, UnreachableServerIsNeitherCountedOutNorDropped) {
  const v1::ObjectManifest m = Store("a");
  servers_.failing.insert(Address("s2"));  // up (heartbeats) but its listing fails
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.under_replicated, 0u);
  EXPECT_EQ(stats.bad_replicas, 0u);
  servers_.failing.clear();
  ExpectWhole(m);
}

TEST_F(RepairerTest, TargetsPreferUnusedFailureDomains) {
  Beat("s4", "rack-s1");  // s4 shares s1's domain
  Beat("s5", "rack-s5");
  const v1::ObjectManifest m = Store("a", 4);
  MarkDown("s3");
  MustRun();
  const v1::ObjectManifest current = Current(m);
  for (const v1::ChunkLocation& c : current.chunks()) {
    EXPECT_EQ(ServersOf(c), (std::set<std::string>{"s1", "s2", "s5"}));
  }
}

TEST_F(RepairerTest, DrainingServerIsEmptiedThenReportedDrained) {
  const v1::ObjectManifest m = Store("a");
  ASSERT_TRUE(registry_->SetDraining("s1", true).ok());
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.repaired, 2u);
  EXPECT_TRUE(stats.drained.empty());  // still listed at this pass's census
  const v1::ObjectManifest current = Current(m);
  for (const v1::ChunkLocation& c : current.chunks()) EXPECT_EQ(ServersOf(c).count("s1"), 0u);
  stats = MustRun();
  EXPECT_EQ(stats.drained, std::vector<std::string>{"s1"});
  EXPECT_TRUE(registry_->Find("s1")->drained());
  // Placement no longer uses it.
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(20, 3);
  ASSERT_TRUE(placed.ok());
  for (const auto& p : *placed) {
    for (const auto& s : p.servers()) EXPECT_NE(s.server_id(), "s1");
  }
}

TEST_F(RepairerTest, NoReplicaLeftIsReportedUnavailable) {
  const v1::ObjectManifest m = Store("a", 1);
  for (const char* s : {"s1", "s2", "s3"})
    ASSERT_TRUE(servers_.DeleteChunks(Address(s), {m.chunks(0).chunk_id()}).ok());
  RepairStats stats = MustRun();
  EXPECT_EQ(stats.unavailable, 1u);
  EXPECT_EQ(stats.still_under_replicated, 1u);
}

TEST_F(RepairerTest, CopiesAreThrottled) {
  int64_t slept = 0;
  RepairOptions options;
  options.max_bytes_per_second = 10;  // bytes/s: each ~15-byte copy costs over a second
  options.parallelism = 1;
  options.sleep = [&](int64_t micros) {
    slept += micros;
    clock_.Advance(micros);
  };
  repairer_ =
      std::make_unique<Repairer>(catalog_.get(), registry_.get(), &servers_, &clock_, options);
  Store("a", 3);
  MarkDown("s3");
  RepairStats stats = MustRun();
  ASSERT_EQ(stats.replicas_written, 3u);
  // The first copy goes at once; the others wait for the bytes before them.
  const int64_t first_two = static_cast<int64_t>(stats.repair_bytes * 2 / 3) * 1'000'000 / 10;
  EXPECT_GE(slept, first_two - 1'000'000);
  EXPECT_GT(slept, 0);
}

}  // namespace
}  // namespace medvault::metaserver
