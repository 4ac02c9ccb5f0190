// Issue 14, item 6 with the real binaries: two chunks swapped on one chunk server's disk (each
// intact, under the other's name or in the other's record of a pack extent) are found by an
// on-demand scrub an operator starts with the CLI
// (`medvault scrub start --server ID`, followed with `scrub status --json` until finished),
// reported and repaired: every instance reads back byte-exact, every replica is whole again, and
// the server's disk holds each chunk's own bytes again.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chunkserver/testing/chunk_disk.h"
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

using testing::ExternalCluster;

constexpr auto kTimeout = std::chrono::seconds(60);

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
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

  // Swap two chunks on chunkserver-0 (their files, or their records in a pack extent): each
  // stays intact, with a valid checksum.
  absl::StatusOr<std::vector<chunkserver::testing::ChunkOnDisk>> files =
      chunkserver::testing::ListChunksOnDisk(cluster.chunkserver_dir(0));
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_GE(files->size(), 2u);
  const chunkserver::testing::ChunkOnDisk a_was = (*files)[0], b_was = (*files)[1];
  std::map<std::string, std::string> was_payload;  // chunk id -> its ciphertext
  for (const chunkserver::testing::ChunkOnDisk* c : {&a_was, &b_was}) {
    absl::StatusOr<std::string> bytes = chunkserver::testing::ReadChunkOnDisk(*c);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    was_payload[c->id] = bytes->substr(c->payload_offset);
  }
  ASSERT_NE(was_payload[a_was.id], was_payload[b_was.id]);
  ASSERT_TRUE(chunkserver::testing::SwapChunksOnDisk(a_was, b_was).ok());

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
  EXPECT_TRUE(absl::StrContains(status, absl::StrCat("\"chunks_checked\":", files->size(),
                                                     ",\"chunks_total\":", files->size())))
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
  // The server holds each chunk's own bytes again (the repaired copies; in a pack extent, new
  // records): the payloads on disk are those swapped away.
  absl::StatusOr<std::vector<chunkserver::testing::ChunkOnDisk>> after =
      chunkserver::testing::ListChunksOnDisk(cluster.chunkserver_dir(0));
  ASSERT_TRUE(after.ok()) << after.status();
  for (const chunkserver::testing::ChunkOnDisk* was : {&a_was, &b_was}) {
    auto now =
        std::find_if(after->begin(), after->end(),
                     [&](const chunkserver::testing::ChunkOnDisk& c) { return c.id == was->id; });
    ASSERT_NE(now, after->end()) << "a swapped chunk was not restored";
    absl::StatusOr<std::string> bytes = chunkserver::testing::ReadChunkOnDisk(*now);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->substr(now->payload_offset), was_payload.at(was->id));
  }
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
