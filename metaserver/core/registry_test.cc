// ChunkServerRegistry: liveness by the injected clock, persistence, placement rules.
#include "metaserver/core/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"

#include <map>
#include <set>

#include "common/testing/temp_dir.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kGiB = 1ull << 30;

v1::ChunkServerInfo Server(const std::string& id, const std::string& domain = "",
                           uint64_t free = kGiB) {
  v1::ChunkServerInfo info;
  info.set_server_id(id);
  info.set_address("127.0.0.1:" + std::to_string(7000 + std::hash<std::string>()(id) % 1000));
  info.set_failure_domain(domain);
  info.set_capacity_bytes(10 * kGiB);
  info.set_free_bytes(free);
  return info;
}

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() { Reopen(); }

  void Reopen() {
    registry_.reset();
    kv_.reset();
    auto kv = KvStore::Open(dir_.path() + "/db", MetaserverColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    registry_ =
        std::make_unique<ChunkServerRegistry>(kv_.get(), &clock_, RegistryOptions(), /*seed=*/42);
    ASSERT_TRUE(registry_->Load().ok());
  }

  void Beat(const v1::ChunkServerInfo& info) { ASSERT_TRUE(registry_->Heartbeat(info).ok()); }

  medvault::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<ChunkServerRegistry> registry_;
};

TEST_F(RegistryTest, HeartbeatRegistersAndServerGoesDownWhenSilent) {
  Beat(Server("a"));
  Beat(Server("b"));
  ASSERT_EQ(registry_->List().size(), 2u);
  EXPECT_TRUE(registry_->List()[0].up());
  EXPECT_EQ(registry_->List()[0].last_heartbeat_micros(), clock_.NowMicros());
  EXPECT_EQ(registry_->AddressOf("a").value(), Server("a").address());
  EXPECT_TRUE(absl::IsNotFound(registry_->AddressOf("zz").status()));

  clock_.Advance(9'000'000);
  Beat(Server("b"));
  clock_.Advance(1'000'000);  // a: exactly 10 s silent
  EXPECT_FALSE(registry_->Find("a")->up());
  EXPECT_TRUE(registry_->Find("b")->up());
  EXPECT_EQ(registry_->CountUpDown().up, 1u);
  EXPECT_EQ(registry_->CountUpDown().down, 1u);
  Beat(Server("a"));
  EXPECT_TRUE(registry_->Find("a")->up());

  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Heartbeat(v1::ChunkServerInfo())));
  v1::ChunkServerInfo no_address = Server("c");
  no_address.clear_address();
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Heartbeat(no_address)));
}

TEST_F(RegistryTest, RegisteredServersPersistButStartDown) {
  Beat(Server("a", "rack1"));
  v1::ChunkServerInfo moved = Server("b");
  Beat(moved);
  moved.set_address("10.0.0.9:7000");
  Beat(moved);
  Reopen();
  std::vector<v1::ChunkServerStatus> servers = registry_->List();
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_FALSE(servers[0].up());
  EXPECT_FALSE(servers[1].up());
  EXPECT_EQ(servers[0].server().failure_domain(), "rack1");
  EXPECT_EQ(registry_->AddressOf("b").value(), "10.0.0.9:7000");
  EXPECT_TRUE(absl::IsUnavailable(registry_->Place(1, 1).status()));
  Beat(Server("a", "rack1"));
  EXPECT_TRUE(registry_->Find("a")->up());
}

TEST_F(RegistryTest, PlacesOnDistinctServersAndSpreadsLoad) {
  for (const char* id : {"a", "b", "c", "d", "e"}) Beat(Server(id));
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(1000, 3);
  ASSERT_TRUE(placed.ok()) << placed.status();
  ASSERT_EQ(placed->size(), 1000u);
  std::set<std::string> ids;
  std::map<std::string, int> load;
  for (const v1::ChunkPlacement& p : *placed) {
    EXPECT_EQ(p.chunk_id().size(), 16u);
    ids.insert(p.chunk_id());
    ASSERT_EQ(p.servers_size(), 3);
    std::set<std::string> servers;
    for (const auto& s : p.servers()) {
      servers.insert(s.server_id());
      ++load[s.server_id()];
    }
    EXPECT_EQ(servers.size(), 3u);
  }
  EXPECT_EQ(ids.size(), 1000u);
  ASSERT_EQ(load.size(), 5u);
  for (const auto& [id, n] : load) EXPECT_NEAR(n, 600, 100) << id;  // 3000 replicas over 5 servers
}

// A put re-placing after a failed replica write names the servers that failed: they are never
// chosen, and they do not count towards the servers placement needs.
TEST_F(RegistryTest, ExcludedServersAreNeverChosenNorCounted) {
  for (const char* id : {"a", "b", "c", "d"}) Beat(Server(id));
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(200, 3, {"b"});
  ASSERT_TRUE(placed.ok()) << placed.status();
  for (const v1::ChunkPlacement& p : *placed) {
    for (const auto& s : p.servers()) EXPECT_NE(s.server_id(), "b");
  }
  absl::StatusOr<std::vector<v1::ChunkPlacement>> too_few = registry_->Place(1, 3, {"b", "c"});
  EXPECT_TRUE(absl::IsFailedPrecondition(too_few.status())) << too_few.status();
  EXPECT_TRUE(absl::StrContains(too_few.status().message(), "2 excluded")) << too_few.status();
}

TEST_F(RegistryTest, UsesDistinctFailureDomainsWhenEnoughExist) {
  // Three racks; rack1 holds most servers. Every chunk must span all three racks.
  for (const char* id : {"r1a", "r1b", "r1c", "r1d"}) Beat(Server(id, "rack1"));
  Beat(Server("r2a", "rack2"));
  Beat(Server("r3a", "rack3"));
  std::map<std::string, std::string> domain_of;
  for (const auto& s : registry_->List())
    domain_of[s.server().server_id()] = s.server().failure_domain();
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(200, 3);
  ASSERT_TRUE(placed.ok()) << placed.status();
  for (const v1::ChunkPlacement& p : *placed) {
    std::set<std::string> domains;
    for (const auto& s : p.servers()) domains.insert(domain_of[s.server_id()]);
    EXPECT_EQ(domains.size(), 3u);
  }
  // Two racks for three replicas: distinct servers, both racks used.
  clock_.Advance(11'000'000);
  for (const char* id : {"r1a", "r1b", "r1c"}) Beat(Server(id, "rack1"));
  Beat(Server("r2a", "rack2"));
  placed = registry_->Place(200, 3);
  ASSERT_TRUE(placed.ok()) << placed.status();
  for (const v1::ChunkPlacement& p : *placed) {
    std::set<std::string> servers, domains;
    for (const auto& s : p.servers()) {
      servers.insert(s.server_id());
      domains.insert(domain_of[s.server_id()]);
    }
    EXPECT_EQ(servers.size(), 3u);
    EXPECT_EQ(domains.size(), 2u);
  }
}

TEST_F(RegistryTest, UnlabelledServersAreTheirOwnDomains) {
  Beat(Server("a", "rack1"));
  Beat(Server("b", "rack1"));
  Beat(Server("c"));
  Beat(Server("d"));
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(100, 3);
  ASSERT_TRUE(placed.ok());
  for (const v1::ChunkPlacement& p : *placed) {
    int rack1 = 0;
    for (const auto& s : p.servers()) rack1 += s.failure_domain() == "rack1";
    EXPECT_EQ(rack1, 1);  // {rack1, c, d} are three domains
  }
}

// Issue 14, item 7: too few servers is a final answer with the real reason, not UNAVAILABLE
// (which clients of the group retry for 30 s, then report as "not the leader").
TEST_F(RegistryTest, TooFewServersIsAFailedPrecondition) {
  Beat(Server("a"));
  Beat(Server("b"));
  absl::Status s = registry_->Place(1, 3).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("placement needs 3 chunk servers up, 2 are"));
  EXPECT_TRUE(registry_->Place(1, 2).ok());
  clock_.Advance(10'000'001);
  Beat(Server("a"));
  s = registry_->Place(1, 2).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("placement needs 2 chunk servers up, 1 are"));
}

// A registry that has just loaded (a new leader) has not heard from servers that are up: while
// they could still make up the difference, falling short is UNAVAILABLE (retry shortly); once
// they all spoke, or the down interval has passed, it is final.
TEST_F(RegistryTest, TooFewServersRightAfterLoadingIsUnavailableUntilWarm) {
  for (const char* id : {"a", "b", "c"}) Beat(Server(id));
  Reopen();  // a new leader: three registered servers, none heard from yet
  Beat(Server("a"));
  Beat(Server("b"));
  absl::Status s = registry_->Place(1, 3).status();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("placement needs 3 chunk servers up, 2 are"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("1 more not heard from"));
  // Excluding a server that spoke leaves too few even if "c" turns out up: final.
  s = registry_->Place(1, 3, {"a"}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  clock_.Advance(5'000'000);
  Beat(Server("a"));
  Beat(Server("b"));
  clock_.Advance(5'000'001);  // the down interval since loading has passed: "c" is down
  Beat(Server("a"));
  Beat(Server("b"));
  s = registry_->Place(1, 3).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("placement needs 3 chunk servers up, 2 are"));
}

TEST_F(RegistryTest, FullServersAreExcluded) {
  Beat(Server("a"));
  Beat(Server("b"));
  Beat(Server("full", "", 1 << 20));
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed = registry_->Place(100, 2);
  ASSERT_TRUE(placed.ok());
  for (const auto& p : *placed) {
    for (const auto& s : p.servers()) EXPECT_NE(s.server_id(), "full");
  }
  absl::Status s = registry_->Place(1, 3).status();
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

TEST_F(RegistryTest, RejectsBadArguments) {
  for (const char* id : {"a", "b", "c", "d", "e", "f"}) Beat(Server(id));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Place(1, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Place(1, 6).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Place(0, 3).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Place(100001, 3).status()));
  EXPECT_TRUE(registry_->Place(1, 5).ok());
}

}  // namespace
}  // namespace medvault::metaserver
