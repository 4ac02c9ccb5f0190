// Issue 17's Raft membership from the CLI, with the real binaries over mutual TLS: the metaserver
// and key service each run as a group of 3 (log compacted every 20 entries, so a returning replica
// catches up from a snapshot). `medvault raft status` reports both groups; `raft transfer-leader`
// moves the key service's leadership; then a metaserver follower loses its disk and rejoins by the
// procedure docs/operations.md gives: `raft remove` it, restart it empty (without
// --raft_bootstrap), `raft add` it back. The group keeps serving throughout, the replica catches
// up and becomes a voter, and once the old leader is killed the group can only make progress with
// the rejoined replica's vote and data: every stored instance still reads back bit-exact.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/file_scan.h"
#include "common/tls.h"
#include "medvault/v1/admin.grpc.pb.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ExternalCluster;

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

class RaftMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ClusterOptions options;
    options.replicas = 3;
    options.metaserver_flags = {"--raft_snapshot_entries=20"};
    options.keyservice_flags = {"--raft_snapshot_entries=20"};
    cluster_ = std::make_unique<ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    auto channel = cluster_->Channel(cluster_->frontend(), kFrontendPeer);
    store_ = v1::ImageStore::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }

  // Stores `n` more distinct instances and remembers their bytes.
  void Store(int n) {
    static const testing::DicomInstanceFactory factory(
        testing::ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
    for (int i = 0; i < n; ++i) {
      const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.1717.", stored_.size() + 1);
      absl::StatusOr<std::string> bytes = factory.WithSopInstanceUid(uid);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(store_.get(), *bytes);
      ASSERT_TRUE(put.ok()) << put.status();
      stored_.emplace_back(uid, *bytes);
    }
  }

  void ExpectEveryInstanceReadsBack() {
    for (const auto& [uid, bytes] : stored_) {
      absl::StatusOr<std::string> got = testing::GetInstance(store_.get(), uid);
      ASSERT_TRUE(got.ok()) << uid << ": " << got.status();
      EXPECT_TRUE(*got == bytes) << uid << " differs";
    }
  }

  absl::StatusOr<v1::GetRaftStatusResponse> Status(v1::RaftGroup group) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::GetRaftStatusRequest request;
    request.set_group(group);
    v1::GetRaftStatusResponse response;
    grpc::Status s = admin_->GetRaftStatus(&ctx, request, &response);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return response;
  }

  // Polls the leader's view until `done` holds for it (or 60 s pass).
  template <typename Pred>
  bool WaitForStatus(v1::RaftGroup group, Pred done) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      absl::StatusOr<v1::GetRaftStatusResponse> st = Status(group);
      if (st.ok() && done(*st)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  std::unique_ptr<v1::ImageStore::Stub> store_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::vector<std::pair<std::string, std::string>> stored_;
};

// "metaserver-2" → 2.
uint64_t RaftIdOf(const std::string& name) { return std::stoull(name.substr(name.rfind('-') + 1)); }

TEST_F(RaftMembershipTest, StatusTransferAndAWipedReplicaRejoiningByRemoveThenAdd) {
  Store(3);

  // Status of both groups: three voters each, nobody lagging far.
  testing::CommandResult status = Cli(*cluster_, {"raft", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "metaserver: leader ")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "keyservice: leader ")) << status.out;
  for (v1::RaftGroup group : {v1::RAFT_GROUP_METASERVER, v1::RAFT_GROUP_KEYSERVICE}) {
    absl::StatusOr<v1::GetRaftStatusResponse> st = Status(group);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_EQ(st->members_size(), 3);
    for (const auto& m : st->members()) EXPECT_TRUE(m.voter()) << m.id();
  }

  // Leadership hand-off of the key service, named by the CLI and seen in the metrics.
  absl::StatusOr<std::string> key_leader = cluster_->LeaderOf("keyservice");
  ASSERT_TRUE(key_leader.ok()) << key_leader.status();
  testing::CommandResult moved = Cli(*cluster_, {"raft", "transfer-leader", "keyservice"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_TRUE(absl::StrContains(moved.out, " leads")) << moved.out;
  absl::StatusOr<std::string> new_key_leader = cluster_->LeaderOf("keyservice");
  ASSERT_TRUE(new_key_leader.ok()) << new_key_leader.status();
  EXPECT_NE(*new_key_leader, *key_leader);
  Store(2);  // keys come from the new leader

  // A metaserver follower loses its disk.
  absl::StatusOr<std::string> leader = cluster_->LeaderOf("metaserver");
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::string victim;
  for (const std::string& name : cluster_->Replicas("metaserver")) {
    if (name != *leader) victim = name;
  }
  const uint64_t victim_id = RaftIdOf(victim);
  ASSERT_TRUE(cluster_->Kill(victim).ok());
  ASSERT_TRUE(cluster_->Wipe(victim).ok());

  // 1. Remove it: the group is two voters, and keeps serving.
  testing::CommandResult removed =
      Cli(*cluster_, {"raft", "remove", "metaserver", std::to_string(victim_id)});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  absl::StatusOr<v1::GetRaftStatusResponse> two = Status(v1::RAFT_GROUP_METASERVER);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->members_size(), 2);
  Store(30);  // past the snapshot threshold: the log the replica missed is compacted away

  // 2. Restart it empty (Restart drops --raft_bootstrap) and add it back.
  ASSERT_TRUE(cluster_->Restart(victim).ok());
  testing::CommandResult added =
      Cli(*cluster_,
          {"raft", "add", "metaserver", std::to_string(victim_id), cluster_->AddressOf(victim)});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_TRUE(WaitForStatus(v1::RAFT_GROUP_METASERVER,
                            [&](const v1::GetRaftStatusResponse& st) {
                              for (const auto& m : st.members()) {
                                if (m.id() == victim_id)
                                  return m.voter() && m.lag() == 0 && st.members_size() == 3;
                              }
                              return false;
                            }))
      << victim << " did not become a caught-up voter";
  EXPECT_TRUE(
      absl::StrContains(testing::ReadWholeFile(cluster_->LogFileOf(victim)), "has no Raft state"))
      << "the wiped replica did not start empty";
  Store(2);

  // 3. Kill another replica (the leader unless the rejoined one leads): the two left can only
  //    elect and commit with the rejoined replica's vote and log.
  absl::StatusOr<std::string> last_leader = cluster_->LeaderOf("metaserver");
  ASSERT_TRUE(last_leader.ok()) << last_leader.status();
  std::string killed = *last_leader;
  if (killed == victim) killed = *leader;
  ASSERT_TRUE(cluster_->Kill(killed).ok());
  absl::StatusOr<std::string> after = cluster_->LeaderOf("metaserver", std::chrono::seconds(60));
  ASSERT_TRUE(after.ok()) << after.status();
  ExpectEveryInstanceReadsBack();
  Store(1);
}

}  // namespace
}  // namespace medvault
