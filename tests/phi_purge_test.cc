// Issue 14, item 5 with the real binaries: after `medvault rm --study`, the deleted study's PHI
// (patient name and id, its UIDs) is physically gone from every metaserver replica's data
// directory (Raft log, write-ahead log, database files) once the replicas report their purge
// through the delete's log index; nothing waits on a timer. The instance's header (the data set
// without bulk values, kept for WADO-RS /metadata) goes with it.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/replica_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using testing::ExternalCluster;

constexpr auto kTimeout = std::chrono::seconds(60);
// Distinctive values no other file on the machine holds.
constexpr char kPatientName[] = "ZZPURGE^SENTINELNAME";
constexpr char kPatientId[] = "PURGEID7319";
constexpr char kStudyUid[] = "1.2.826.0.1.3680043.10.7319.1";
constexpr char kSeriesUid[] = "1.2.826.0.1.3680043.10.7319.2";
constexpr char kSopUid[] = "1.2.826.0.1.3680043.10.7319.3";
// Patient's Address: no index field holds it, only the instance's header (WADO-RS /metadata).
constexpr char kHeaderOnly[] = "ZZPURGE HEADERONLY STREET 7319";

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

// Which of the PHI values some file under the metaservers' data directories still holds, as text
// or hex-encoded (as RocksDB's info log prints keys).
std::vector<std::string> PhiFound(const ExternalCluster& cluster) {
  std::vector<std::string> needles;
  for (const char* value :
       {kPatientName, kPatientId, kStudyUid, kSeriesUid, kSopUid, kHeaderOnly}) {
    needles.push_back(value);
    needles.push_back(absl::BytesToHexString(value));
    needles.push_back(absl::AsciiStrToUpper(absl::BytesToHexString(value)));
  }
  std::vector<std::string> found;
  for (const std::string& name : cluster.Replicas("metaserver")) {
    const auto files = testing::ReadFilesUnder(cluster.DataDirOf(name));
    for (const std::string& needle : needles) {
      for (const auto& [path, content] : files) {
        if (content.find(needle) != std::string::npos) {
          found.push_back(absl::StrCat(needle, " in ", path));
        }
      }
    }
  }
  return found;
}

TEST(PhiPurgeTest, DeletedStudyLeavesNoPhiOnAnyMetaserver) {
  testing::ClusterOptions options;
  options.replicas = 3;
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  // A real CT slice rewritten by DCMTK's dcmodify to carry distinctive PHI (it updates the meta
  // header's SOP Instance UID too).
  const std::string file = cluster.root() + "/phi.dcm";
  fs::copy_file(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm", file);
  testing::CommandResult modify = testing::RunCommand(
      {"/usr/bin/dcmodify", "-nb", "-i", absl::StrCat("(0010,0010)=", kPatientName), "-i",
       absl::StrCat("(0010,0020)=", kPatientId), "-i", absl::StrCat("(0020,000d)=", kStudyUid),
       "-i", absl::StrCat("(0020,000e)=", kSeriesUid), "-i", absl::StrCat("(0008,0018)=", kSopUid),
       "-i", absl::StrCat("(0010,1040)=", kHeaderOnly), file});
  ASSERT_EQ(modify.exit_code, 0) << modify.err;

  testing::CommandResult put = Cli(cluster, {"put", file});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  // The PHI is on the metaservers now (the scan sees it, so its silence later means something).
  const std::vector<std::string> stored = PhiFound(cluster);
  ASSERT_FALSE(stored.empty());
  // ... the instance's header too (kept in its index row for WADO-RS /metadata).
  ASSERT_TRUE(std::any_of(stored.begin(), stored.end(), [](const std::string& f) {
    return absl::StartsWith(f, kHeaderOnly);
  })) << absl::StrJoin(stored, "\n");

  testing::CommandResult rm = Cli(cluster, {"rm", "--study", kStudyUid});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  // Garbage collection reclaims the chunks and drops the tombstones (which name the UIDs).
  absl::StatusOr<std::string> leader = cluster.LeaderOf("metaserver");
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto meta =
      v1::MetaService::NewStub(cluster.Channel(cluster.AddressOf(*leader), kMetaServerPeer));
  {
    grpc::ClientContext ctx;
    v1::RunGarbageCollectionRequest req;
    v1::RunGarbageCollectionResponse resp;
    ASSERT_TRUE(meta->RunGarbageCollection(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.tombstones_pending(), 0u);
  }
  // Every replica reports its purge through the log index the leader has committed by now.
  absl::StatusOr<double> committed =
      cluster.Metric(*leader, "medvault_metaserver_raft_commit_index");
  ASSERT_TRUE(committed.ok()) << committed.status();
  for (const std::string& name : cluster.Replicas("metaserver")) {
    absl::StatusOr<double> purged = testing::WaitForMetric(
        cluster, name, "medvault_metaserver_purged_through_index",
        [&](double index) { return index >= *committed; }, kTimeout);
    ASSERT_TRUE(purged.ok()) << name << ": " << purged.status();
  }

  const std::vector<std::string> found = PhiFound(cluster);
  EXPECT_TRUE(found.empty()) << found.size() << " left: " << absl::StrJoin(found, "\n");
  if (!found.empty()) {
    for (const std::string& name : cluster.Replicas("metaserver")) {
      for (absl::string_view line :
           absl::StrSplit(testing::ReadWholeFile(cluster.LogFileOf(name)), '\n')) {
        if (absl::StrContains(line, "purg")) std::cerr << name << ": " << line << "\n";
      }
    }
  }
  // The cluster still serves: the study is gone for clients too.
  testing::CommandResult find = Cli(cluster, {"find", "--json"});
  EXPECT_EQ(find.exit_code, 0) << find.err;
  EXPECT_EQ(find.out.find(kPatientId), std::string::npos);
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
