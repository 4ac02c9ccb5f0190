// Issue 5's key-management claims with the real binaries: a KEK rotation rewraps every data key in
// the background across a 3-replica key service (surviving a leader kill) while every object stays
// readable, after which the old KEK is retired and its file removed; and a deleted object stays
// unreadable even when copies of its chunk files (and its old manifest) are put back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chunkserver/testing/chunk_disk.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/replica_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
namespace fs = std::filesystem;

using testing::ReadWholeFile;

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

// Stores `n` distinct instances made from CT_small.dcm; returns SOP Instance UID -> bytes.
std::map<std::string, std::string> StoreInstances(const ExternalCluster& cluster, int n) {
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  std::map<std::string, std::string> stored;
  for (int i = 0; i < n; ++i) {
    const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.5.", i + 1);
    absl::StatusOr<std::string> bytes = factory.WithSopInstanceUid(uid);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok()) break;
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub.get(), *bytes);
    EXPECT_TRUE(put.ok()) << put.status();
    if (put.ok()) stored[uid] = *bytes;
  }
  return stored;
}

void ExpectAllReadBack(const ExternalCluster& cluster,
                       const std::map<std::string, std::string>& stored) {
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  for (const auto& [uid, bytes] : stored) {
    absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), uid);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Sha256(*got), Sha256(bytes));
  }
}

// Kill and restart every key service replica, one at a time (a rolling restart), optionally
// adding flags.
void RollingRestartKeyService(ExternalCluster* cluster) {
  for (const std::string& name : cluster->Replicas("keyservice")) {
    ASSERT_TRUE(cluster->Kill(name).ok()) << name;
    ASSERT_TRUE(cluster->Restart(name).ok()) << name;
  }
}

TEST(KeyManagementTest, RotationRewrapsEveryKeyWhileObjectsStayReadableThenTheOldKekRetires) {
  testing::ClusterOptions options;
  options.replicas = 3;
  // Small rewrap steps so the rotation is still running when its leader is killed.
  options.keyservice_flags = {"--rewrap_batch=2", "--rewrap_interval_ms=500"};
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  const std::map<std::string, std::string> stored = StoreInstances(cluster, 12);
  ASSERT_EQ(stored.size(), 12u);

  // Install KEK version 2 on every replica. Nothing changes until an operator rotates.
  ASSERT_TRUE(cluster.WriteKek(2).ok());
  RollingRestartKeyService(&cluster);
  testing::CommandResult status = Cli(cluster, {"kek", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "active KEK version: 1")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "to rewrap: 0")) << status.out;

  testing::CommandResult rotate = Cli(cluster, {"kek", "rotate", "2"});
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  EXPECT_TRUE(absl::StrContains(rotate.out, "KEK version 2 now wraps new keys")) << rotate.out;
  // The leader that runs the rewrap dies mid-way; the new leader finishes it.
  absl::StatusOr<std::string> leader = cluster.LeaderOf("keyservice");
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(cluster.Kill(*leader).ok());
  ExpectAllReadBack(cluster, stored);  // readable with a mix of v1 and v2 keys
  ASSERT_TRUE(cluster.Restart(*leader).ok());
  testing::CommandResult follow = Cli(cluster, {"kek", "rotate", "2", "--wait", "120"});
  ASSERT_EQ(follow.exit_code, 0) << follow.err;
  EXPECT_TRUE(absl::StrContains(follow.out, "rotation to KEK version 2 complete")) << follow.out;
  ExpectAllReadBack(cluster, stored);

  // Retire v1, delete its file everywhere, restart: every object still reads.
  testing::CommandResult retire = Cli(cluster, {"kek", "retire", "1"});
  ASSERT_EQ(retire.exit_code, 0) << retire.err;
  ASSERT_TRUE(fs::remove(cluster.kek_dir() + "/1"));
  RollingRestartKeyService(&cluster);
  ExpectAllReadBack(cluster, stored);
  status = Cli(cluster, {"kek", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "active KEK version: 2")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "1        0           no      yes")) << status.out;
  // New objects after the rotation use v2 too.
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  std::map<std::string, std::string> later;
  later["1.2.826.0.1.3680043.8.498.5.99"] =
      factory.WithSopInstanceUid("1.2.826.0.1.3680043.8.498.5.99").value();
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  ASSERT_TRUE(testing::PutInstance(stub.get(), later.begin()->second).ok());
  ExpectAllReadBack(cluster, later);
  // Rotation and retirement are in the audit log, with the operator's identity.
  testing::CommandResult audit = Cli(cluster, {"audit", "--since", "1000000000"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(absl::StrContains(audit.out,
                                " rotate caller=frontend/frontend on_behalf_of=client/client "
                                "purpose=RotateKek result=OK kek_version=2"))
      << audit.out;
  EXPECT_TRUE(absl::StrContains(audit.out,
                                " retire caller=frontend/frontend on_behalf_of=client/client "
                                "purpose=RetireKek result=OK kek_version=1"))
      << audit.out;
  EXPECT_TRUE(cluster.Stop().ok());
}

TEST(KeyManagementTest, DeletedObjectStaysUnreadableWhenItsChunkFilesArePutBack) {
  ExternalCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  auto put = testing::PutInstance(
      stub.get(), ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  ASSERT_TRUE(put.ok()) << put.status();
  auto meta = v1::MetaService::NewStub(cluster.Channel(cluster.metaserver(), kMetaServerPeer));
  v1::GetInstanceMetaResponse old;
  {
    grpc::ClientContext ctx;
    v1::GetInstanceMetaRequest req;
    req.set_sop_instance_uid(put->sop_instance_uid());
    ASSERT_TRUE(meta->GetInstance(&ctx, req, &old).ok());
  }
  // An attacker (or a stale backup) keeps copies of every chunk of the object on disk (its file,
  // or its record in a pack extent)...
  std::vector<std::pair<chunkserver::testing::ChunkOnDisk, std::string>> copies;
  std::set<std::string> ids;
  for (const auto& chunk : old.manifest().chunks()) ids.insert(chunk.chunk_id());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::vector<chunkserver::testing::ChunkOnDisk>> on_disk =
        chunkserver::testing::ListChunksOnDisk(cluster.chunkserver_dir(i));
    ASSERT_TRUE(on_disk.ok()) << on_disk.status();
    for (const chunkserver::testing::ChunkOnDisk& c : *on_disk) {
      if (ids.count(c.id) == 0) continue;
      absl::StatusOr<std::string> bytes = chunkserver::testing::ReadChunkOnDisk(c);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      copies.emplace_back(c, *bytes);
    }
  }
  ASSERT_EQ(copies.size(), 3u * old.manifest().chunks_size());

  // ...the study is deleted (its keys destroyed, then shredded on the key service's disk)...
  testing::CommandResult rm = Cli(cluster, {"rm", "--study", put->study_uid()});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  absl::StatusOr<double> shredded = testing::WaitForMetric(
      cluster, "keyservice", "medvault_keyservice_keys_shredded_total",
      [](double n) { return n >= 1; }, std::chrono::seconds(30));
  ASSERT_TRUE(shredded.ok()) << shredded.status();

  // ...and puts every copy back, and even the old manifest into the catalog.
  for (const auto& [chunk, bytes] : copies) {
    ASSERT_TRUE(chunkserver::testing::RestoreChunkOnDisk(chunk, bytes).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::CommitInstanceRequest req;
    *req.mutable_tags() = old.info().tags();
    *req.mutable_manifest() = old.manifest();
    v1::CommitInstanceResponse resp;
    (void)meta->CommitInstance(&ctx, req, &resp);  // accepted or not, the key is gone
  }
  // The ciphertext is all there, but its key is not: the key service knows no such key, even
  // for the frontend, and the public API cannot return the image.
  auto keys = v1::KeyService::NewStub(cluster.Channel(cluster.keyservice(), kKeyServicePeer));
  grpc::ClientContext ctx;
  v1::GetDataKeyRequest req;
  req.set_object_id(old.manifest().object_id());
  v1::GetDataKeyResponse resp;
  EXPECT_EQ(keys->GetDataKey(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), put->sop_instance_uid());
  EXPECT_FALSE(got.ok());
  EXPECT_TRUE(got.status().code() == absl::StatusCode::kNotFound) << got.status();
  for (const auto& [chunk, bytes] : copies)
    EXPECT_EQ(*chunkserver::testing::ReadChunkOnDisk(chunk), bytes)
        << "the copies are back on disk";
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
