// Issue 14, item 6 with the real binaries: two chunk files swapped on one chunk server (each
// intact, under the other's name) are found by an on-demand scrub an operator starts with the CLI
// (`medvault scrub start --server ID`, followed with `scrub status --json` until finished),
// reported and repaired: every instance reads back byte-exact, every replica is whole again, and
// the files on disk hold the chunks they are named for.
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/replica_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using testing::ExternalCluster;

constexpr auto kTimeout = std::chrono::seconds(60);

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

// The chunk files under a chunk server's data directory: path -> chunk id (from the name).
std::map<std::string, std::string> ChunkFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/chunks")) {
    if (!e.is_regular_file()) continue;
    absl::StatusOr<std::string> id = FromHex(e.path().filename().string());
    if (id.ok()) out[e.path().string()] = *id;
  }
  return out;
}

// The id of the registered chunk server at `address`, from `medvault chunkserver list --json`.
std::string ServerIdAt(const ExternalCluster& cluster, const std::string& address) {
  testing::CommandResult list = Cli(cluster, {"chunkserver", "list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  for (absl::string_view line : absl::StrSplit(list.out, '\n')) {
    if (!absl::StrContains(line, absl::StrCat("\"address\":\"", address, "\""))) continue;
    const size_t start = line.find("\"id\":\"") + 6;
    return std::string(line.substr(start, line.find('"', start) - start));
  }
  return "";
}

TEST(ScrubTest, OnDemandScrubFindsSwappedChunkFilesAndRepairRestoresThem) {
  testing::ClusterOptions options;
  options.chunk_size_bytes = 64 << 10;  // CT_small (39 kB) is one chunk
  options.metaserver_flags = {"--down_after_ms=2000", "--repair_interval_ms=300",
                              "--repair_bytes_per_second=0"};
  options.chunkserver_flags = {"--heartbeat_interval_ms=200"};
  ExternalCluster cluster(options);
  absl::Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started;

  testing::DicomInstanceFactory factory(
      testing::ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  std::map<std::string, std::string> stored;
  for (int i = 0; i < 3; ++i) {
    const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.14.", i + 1);
    absl::StatusOr<std::string> bytes = factory.WithSopInstanceUid(uid);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *bytes).ok());
    stored[uid] = *bytes;
  }

  // Swap two chunk files on chunkserver-0: each stays intact, with a valid checksum.
  const std::string dir = cluster.chunkserver_dir(0);
  std::map<std::string, std::string> files = ChunkFiles(dir);
  ASSERT_GE(files.size(), 2u);
  const std::string a = files.begin()->first, b = std::next(files.begin())->first;
  const std::string a_bytes = testing::ReadWholeFile(a), b_bytes = testing::ReadWholeFile(b);
  ASSERT_NE(a_bytes, b_bytes);
  fs::rename(a, a + ".swap");
  fs::rename(b, a);
  fs::rename(a + ".swap", b);

  const std::string server_id = ServerIdAt(cluster, cluster.AddressOf("chunkserver-0"));
  ASSERT_FALSE(server_id.empty());
  testing::CommandResult start = Cli(cluster, {"scrub", "start", "--server", server_id});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_TRUE(absl::StrContains(start.out, server_id)) << start.out;

  // Follow the pass as an operator would, until it says finished.
  std::string status;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (true) {
    testing::CommandResult st = Cli(cluster, {"scrub", "status", "--server", server_id, "--json"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    status = st.out;
    if (absl::StrContains(status, "\"state\":\"finished\"")) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling interval, not a wait
  }
  EXPECT_TRUE(absl::StrContains(status, "\"bad_found\":2,")) << status;
  EXPECT_TRUE(absl::StrContains(status, absl::StrCat("\"chunks_checked\":", files.size(),
                                                     ",\"chunks_total\":", files.size())))
      << status;
  // The table form shows the same pass.
  testing::CommandResult table = Cli(cluster, {"scrub", "status"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "finished")) << table.out;

  // Reported and repaired like rot: every replica whole again, every instance byte-exact.
  absl::StatusOr<testing::AuditResult> audit =
      testing::WaitForFullReplication(cluster, stored, 3, kTimeout);
  ASSERT_TRUE(audit.ok()) << audit.status();
  for (const auto& [uid, bytes] : stored) {
    absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), uid);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == bytes) << "instance " << uid << " differs";
  }
  // The files under both names hold their own chunks again (format version 2: the id at 16..32).
  for (const std::string& path : {a, b}) {
    const std::string content = testing::ReadWholeFile(path);
    ASSERT_GE(content.size(), 32u) << path;
    EXPECT_EQ(content.substr(0, 4), "MVC2");
    EXPECT_EQ(content.substr(16, 16), files.at(path)) << path;
  }
  EXPECT_EQ(testing::ReadWholeFile(a), a_bytes);
  EXPECT_EQ(testing::ReadWholeFile(b), b_bytes);
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
