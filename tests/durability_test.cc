// Issue 4's claims with the real binaries over mutual TLS (one metaserver, one key service, chunk
// servers with short intervals: down after 2 s, a repair pass every 300 ms, scrub passes every
// second). Each test ends the way the issue asks: every acknowledged instance reads back
// bit-exact and every chunk is listed on 3 distinct servers that hold it (replica_audit.h).
//   1. kill -9 a chunk server during sustained uploads; it comes back and its extra copies go;
//   2. wipe a chunk server's data directory and restart it: full repair onto it;
//   3. flip bytes in chunks on disk and delete others (chunk files or records in pack extents,
//   chunkserver/testing/chunk_disk.h): found by reads and scrub, quarantined, repaired;
//   4. a chunk server whose quota fills: clean RESOURCE_EXHAUSTED, writes continue elsewhere, no
//      corrupt chunk, and it takes chunks again once space frees.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "chunkserver/testing/chunk_disk.h"
#include "common/rpc.h"
#include "medvault/v1/chunkserver.grpc.pb.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/replica_audit.h"
#include "tests/testing/uploader.h"

namespace medvault {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ExternalCluster;
using testing::Uploader;

constexpr auto kRepairTimeout = std::chrono::seconds(90);

testing::ClusterOptions DurabilityOptions(int chunkservers) {
  testing::ClusterOptions options;
  options.chunkservers = chunkservers;
  options.chunk_size_bytes =
      64 << 10;  // the smallest the frontend takes: CT_small (39 kB) is one chunk
  options.metaserver_flags = {"--down_after_ms=2000", "--repair_interval_ms=300",
                              "--repair_bytes_per_second=0"};
  options.chunkserver_flags = {"--scrub_pass_interval_s=1", "--scrub_bytes_per_second=50000000"};
  return options;
}

// The chunks on a chunk server's disk, whatever its layout (files or pack extents).
std::vector<chunkserver::testing::ChunkOnDisk> ChunksOnDisk(const std::string& data_dir) {
  absl::StatusOr<std::vector<chunkserver::testing::ChunkOnDisk>> chunks =
      chunkserver::testing::ListChunksOnDisk(data_dir);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *chunks : std::vector<chunkserver::testing::ChunkOnDisk>();
}

void Print(const char* what, const testing::AuditResult& audit) {
  std::printf("%s: %zu instances, %zu chunks, %zu replicas;", what, audit.instances, audit.chunks,
              audit.replicas);
  for (const auto& [server, n] : audit.per_server)
    std::printf(" %s=%zu", server.substr(0, 8).c_str(), n);
  std::printf("\n");
}

TEST(DurabilityTest, KillDuringUploadsIsDetectedRepairedAndReconciled) {
  ExternalCluster cluster(DurabilityOptions(4));
  absl::Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started;
  Uploader uploader(cluster);
  uploader.StartLoad(2);
  ASSERT_TRUE(uploader.WaitForAcks(10, std::chrono::seconds(60)));

  const auto killed_at = Clock::now();
  ASSERT_TRUE(cluster.Kill("chunkserver-1").ok());
  ASSERT_TRUE(testing::WaitForMetric(
                  cluster, "metaserver", "medvault_metaserver_chunkservers_down",
                  [](double v) { return v == 1; }, std::chrono::seconds(30))
                  .ok());
  std::printf("kill -9 to detection: %.2f s (down interval 2 s)\n",
              std::chrono::duration<double>(Clock::now() - killed_at).count());
  // Uploads go on with three servers.
  const size_t before = uploader.acked_count();
  ASSERT_TRUE(uploader.WaitForAcks(before + 10, std::chrono::seconds(60)));
  uploader.Stop();
  // And not one failed: a chunk whose write met the dead server before the metaserver knew was
  // written again on three live ones.
  for (const absl::Status& s : uploader.failures()) ADD_FAILURE() << "a put failed: " << s;
  EXPECT_GT(*cluster.Metric("frontend", "medvault_frontend_chunks_replaced_total"), 0);

  absl::StatusOr<testing::AuditResult> audit =
      testing::WaitForFullReplication(cluster, uploader.acked(), 3, kRepairTimeout);
  ASSERT_TRUE(audit.ok()) << audit.status();
  Print("after repair", *audit);
  EXPECT_GT(*cluster.Metric("metaserver", "medvault_metaserver_chunks_repaired_total"), 0);
  const double passes = *cluster.Metric("metaserver", "medvault_metaserver_repair_passes_total");
  ASSERT_TRUE(testing::WaitForMetric(
                  cluster, "metaserver", "medvault_metaserver_repair_passes_total",
                  [&](double v) { return v >= passes + 2; }, std::chrono::seconds(30))
                  .ok());
  EXPECT_EQ(*cluster.Metric("metaserver", "medvault_metaserver_chunks_under_replicated"), 0);

  // It comes back: no manifest lists it any more, so its old copies of acknowledged chunks are
  // dropped. (A put cut off by the kill may have left an uncommitted chunk there: that is an
  // orphan, garbage collection's to reclaim after its grace, chunk_lifecycle_test.)
  ASSERT_TRUE(cluster.Restart("chunkserver-1").ok());
  const std::set<std::string> acked_chunks = audit->chunk_ids;
  auto chunks = v1::ChunkService::NewStub(
      cluster.Channel(cluster.AddressOf("chunkserver-1"), kChunkServerPeer));
  size_t stale = acked_chunks.size();
  for (auto deadline = Clock::now() + kRepairTimeout; stale > 0 && Clock::now() < deadline;) {
    grpc::ClientContext ctx;
    v1::ListChunksResponse listed;
    if (chunks->ListChunks(&ctx, v1::ListChunksRequest(), &listed).ok()) {
      stale = 0;
      for (const auto& entry : listed.chunks()) stale += acked_chunks.count(entry.chunk_id());
    }
    // Reconciliation is a repair pass inside the metaserver, with no push notification.
    if (stale > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(stale, 0u) << "copies of acknowledged chunks left on the returned server";
  // The pass deletes the copies before it publishes its counts: wait for the count too.
  EXPECT_TRUE(testing::WaitForMetric(
                  cluster, "metaserver", "medvault_metaserver_extra_replicas_dropped_total",
                  [](double v) { return v > 0; }, std::chrono::seconds(30))
                  .ok());
  audit = testing::AuditReplicas(cluster, uploader.acked(), 3);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(cluster.Stop().ok());
}

TEST(DurabilityTest, WipedChunkServerIsRefilled) {
  ExternalCluster cluster(DurabilityOptions(3));
  absl::Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started;
  Uploader uploader(cluster);
  for (int i = 0; i < 15; ++i) {
    absl::Status put = uploader.PutOne();
    ASSERT_TRUE(put.ok()) << put;
  }

  ASSERT_TRUE(cluster.Kill("chunkserver-2").ok());
  ASSERT_TRUE(cluster.Wipe("chunkserver-2").ok());
  ASSERT_TRUE(cluster.Restart("chunkserver-2").ok());  // a new, empty server with a new id

  absl::StatusOr<testing::AuditResult> audit =
      testing::WaitForFullReplication(cluster, uploader.acked(), 3, kRepairTimeout);
  ASSERT_TRUE(audit.ok()) << audit.status();
  Print("after full repair", *audit);
  // Every chunk is back on three servers, so the new one holds a replica of each.
  EXPECT_EQ(ChunksOnDisk(cluster.chunkserver_dir(2)).size(), audit->chunks);
  EXPECT_EQ(*cluster.Metric("metaserver", "medvault_metaserver_chunkservers_down"),
            1);  // the old id
  EXPECT_TRUE(cluster.Stop().ok());
}

TEST(DurabilityTest, FlippedAndDeletedChunkFilesAreFoundAndRepaired) {
  ExternalCluster cluster(DurabilityOptions(3));
  absl::Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started;
  Uploader uploader(cluster);
  for (int i = 0; i < 12; ++i) {
    absl::Status put = uploader.PutOne();
    ASSERT_TRUE(put.ok()) << put;
  }

  // Server 0: flip a byte in every other chunk. Server 1: delete every third chunk (its file, or
  // its record's header in a pack extent). A chunk is on all three servers, so server 2 always
  // keeps a good copy.
  // Only chunks of acknowledged instances: a write retried elsewhere under load may have left an
  // uncommitted copy (an orphan, garbage collection's), whose damage no repair pass counts.
  absl::StatusOr<testing::AuditResult> before =
      testing::AuditReplicas(cluster, uploader.acked(), 3);
  ASSERT_TRUE(before.ok()) << before.status();
  auto committed = [&](std::vector<chunkserver::testing::ChunkOnDisk> chunks) {
    chunks.erase(std::remove_if(chunks.begin(), chunks.end(),
                                [&](const chunkserver::testing::ChunkOnDisk& c) {
                                  return before->chunk_ids.count(c.id) == 0;
                                }),
                 chunks.end());
    return chunks;
  };
  const auto chunks0 = committed(ChunksOnDisk(cluster.chunkserver_dir(0)));
  const auto chunks1 = committed(ChunksOnDisk(cluster.chunkserver_dir(1)));
  ASSERT_GT(chunks0.size(), 10u);
  size_t flipped = 0, deleted = 0;
  for (size_t i = 0; i < chunks0.size(); i += 2, ++flipped) {
    ASSERT_TRUE(chunkserver::testing::CorruptChunkOnDisk(chunks0[i]).ok());
  }
  for (size_t i = 0; i < chunks1.size(); i += 3, ++deleted) {
    ASSERT_TRUE(chunkserver::testing::RemoveChunkOnDisk(chunks1[i]).ok());
  }

  // Reads fail over and are exact at once (and report the bad replicas they meet).
  auto frontend = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  for (const auto& [uid, bytes] : uploader.acked()) {
    absl::StatusOr<std::string> read = testing::GetInstance(frontend.get(), uid);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(*read == bytes);
  }
  // Every bad copy is reported, by a read or by the scrubber's passes, before the group is whole
  // again. Wait for that event first: replication alone can look complete while a flipped copy
  // the scrubber has not reached yet still counts as good (seen once under CI load).
  absl::StatusOr<double> found = testing::WaitForMetric(
      cluster, "metaserver", "medvault_metaserver_bad_replicas_found_total",
      [&](double v) { return v >= static_cast<double>(flipped + deleted); }, kRepairTimeout);
  ASSERT_TRUE(found.ok()) << found.status();
  absl::StatusOr<testing::AuditResult> audit =
      testing::WaitForFullReplication(cluster, uploader.acked(), 3, kRepairTimeout);
  ASSERT_TRUE(audit.ok()) << audit.status();
  Print("after repair", *audit);
  // Every flipped chunk was found (by a read or by the scrubber) and quarantined.
  size_t quarantined = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(cluster.chunkserver_dir(0) + "/quarantine")) {
    quarantined += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(quarantined, flipped);
  EXPECT_GE(*cluster.Metric("metaserver", "medvault_metaserver_bad_replicas_found_total"),
            static_cast<double>(flipped + deleted));
  EXPECT_GT(*cluster.Metric("chunkserver-0", "medvault_chunkserver_scrub_passes_total"), 0);
  EXPECT_TRUE(cluster.Stop().ok());
}

TEST(DurabilityTest, FullChunkServerAnswersResourceExhaustedAndWritesGoElsewhere) {
  testing::ClusterOptions options = DurabilityOptions(4);
  // Server 3 may hold 10 chunks of 39 kB; placement avoids servers with less than one chunk free.
  options.chunkserver_flags_of[3] = {"--max_bytes=400000"};
  options.metaserver_flags.push_back("--min_free_bytes=45000");
  options.metaserver_flags.push_back("--gc_interval_s=1");
  ExternalCluster cluster(options);
  absl::Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started;
  Uploader uploader(cluster);
  // Every put succeeds, also in the moment before the metaserver knows the server is full: a
  // chunk it refuses (RESOURCE_EXHAUSTED) is written again on three others.
  for (int i = 0; i < 40; ++i) {
    absl::Status put = uploader.PutOne();
    EXPECT_TRUE(put.ok()) << put;
  }
  ASSERT_TRUE(testing::WaitForMetric(
                  cluster, "chunkserver-3", "medvault_chunkserver_disk_free_bytes",
                  [](double v) { return v < 45000; }, std::chrono::seconds(10))
                  .ok());
  // Once the metaserver knows, writes all succeed on the other three.
  for (int i = 0; i < 10; ++i) {
    absl::Status put = uploader.PutOne();
    EXPECT_TRUE(put.ok()) << put;
  }
  // Nothing corrupt anywhere; every chunk whole.
  absl::StatusOr<testing::AuditResult> audit =
      testing::WaitForFullReplication(cluster, uploader.acked(), 3, kRepairTimeout);
  ASSERT_TRUE(audit.ok()) << audit.status();
  Print("with a full server", *audit);
  std::printf("puts: %zu acknowledged, %zu refused\n", uploader.acked().size(),
              uploader.failures().size());
  EXPECT_EQ(*cluster.Metric("chunkserver-3", "medvault_chunkserver_scrub_corrupt_chunks_total"), 0);

  // Space frees (the study is deleted and collected): the server takes chunks again.
  auto frontend = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  {
    grpc::ClientContext ctx;
    v1::DeleteStudyRequest req;
    req.set_study_uid(uploader.study());
    v1::DeleteStudyResponse resp;
    ASSERT_TRUE(frontend->DeleteStudy(&ctx, req, &resp).ok());
  }
  ASSERT_TRUE(testing::WaitForMetric(
                  cluster, "chunkserver-3", "medvault_chunkserver_disk_free_bytes",
                  [](double v) { return v >= 300000; }, std::chrono::seconds(60))
                  .ok());
  Uploader after(cluster);
  for (int i = 0; i < 10; ++i) {
    absl::Status put = after.PutOne();
    ASSERT_TRUE(put.ok()) << put;
  }
  ASSERT_TRUE(testing::WaitForMetric(
                  cluster, "chunkserver-3", "medvault_chunkserver_chunks_stored",
                  [](double v) { return v > 0; }, std::chrono::seconds(30))
                  .ok());
  audit = testing::AuditReplicas(cluster, after.acked(), 3);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
