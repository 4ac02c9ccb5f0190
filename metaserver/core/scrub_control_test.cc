// On-demand scrubs: which chunk servers are asked, and how their answers and failures are told.
#include "metaserver/core/scrub_control.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/testing/temp_dir.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {
namespace {

// Records StartScrub calls; answers GetScrubStatus from `statuses` (UNAVAILABLE for others).
class ScrubbingClient : public ChunkServerClient {
 public:
  absl::Status DeleteChunks(const std::string&, const std::vector<std::string>&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<ChunkListPage> ListChunks(const std::string&, absl::string_view,
                                           uint32_t) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<ChunkBytes> ReadChunk(const std::string&, const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::Status WriteChunk(const std::string&, const std::string&, const std::string&,
                          uint32_t) override {
    return absl::UnimplementedError("");
  }
  absl::Status StartScrub(const std::string& address) override {
    started.insert(address);
    return absl::OkStatus();
  }
  absl::StatusOr<v1::ScrubStatus> GetScrubStatus(const std::string& address) override {
    auto it = statuses.find(address);
    if (it == statuses.end()) return absl::UnavailableError("connection refused");
    return it->second;
  }

  std::set<std::string> started;
  std::map<std::string, v1::ScrubStatus> statuses;
};

class ScrubControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = KvStore::Open(dir_.path() + "/db", MetaserverColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    RegistryOptions options;
    options.down_after_micros = 10'000'000;
    registry_ = std::make_unique<ChunkServerRegistry>(kv_.get(), &clock_, options, /*seed=*/1);
    ASSERT_TRUE(registry_->Load().ok());
  }
  void Beat(const std::string& id) {
    v1::ChunkServerInfo info;
    info.set_server_id(id);
    info.set_address(id + ":1");
    ASSERT_TRUE(registry_->Heartbeat(info).ok());
  }

  medvault::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<ChunkServerRegistry> registry_;
  ScrubbingClient client_;
};

TEST_F(ScrubControlTest, StartsOneOrEveryUpServer) {
  Beat("a");
  clock_.Advance(20'000'000);  // a goes down
  Beat("b");
  Beat("c");
  absl::StatusOr<std::vector<std::string>> one = StartScrubs(*registry_, &client_, "b");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, std::vector<std::string>{"b"});
  EXPECT_EQ(client_.started, std::set<std::string>{"b:1"});

  absl::StatusOr<std::vector<std::string>> all = StartScrubs(*registry_, &client_, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u) << "the down server is skipped";
  EXPECT_EQ(client_.started, (std::set<std::string>{"b:1", "c:1"}));

  EXPECT_TRUE(absl::IsNotFound(StartScrubs(*registry_, &client_, "zz").status()));
  EXPECT_TRUE(absl::IsUnavailable(StartScrubs(*registry_, &client_, "a").status()));
}

TEST_F(ScrubControlTest, GathersEachServersProgressAndSaysWhyOneIsMissing) {
  Beat("a");
  Beat("b");
  v1::ScrubStatus st;
  st.set_chunks_checked(5);
  st.set_chunks_total(9);
  st.set_bad_found(1);
  st.set_running(true);
  client_.statuses["a:1"] = st;
  absl::StatusOr<v1::GetScrubStatusMetaResponse> got = GatherScrubStatus(*registry_, &client_, "");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->servers_size(), 2);
  for (const v1::ServerScrubStatus& s : got->servers()) {
    if (s.server_id() == "a") {
      EXPECT_EQ(s.status().chunks_checked(), 5u);
      EXPECT_EQ(s.status().bad_found(), 1u);
      EXPECT_TRUE(s.error().empty());
    } else {
      EXPECT_EQ(s.server_id(), "b");
      EXPECT_NE(s.error().find("UNAVAILABLE"), std::string::npos) << s.error();
    }
  }
  EXPECT_TRUE(absl::IsNotFound(GatherScrubStatus(*registry_, &client_, "zz").status()));
}

}  // namespace
}  // namespace medvault::metaserver
