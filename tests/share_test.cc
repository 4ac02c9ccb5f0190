// Issue 18, shares with the real binaries: `medvault share create|list|show|revoke|unlock|log`
// against a cluster whose metaserver is a three-replica Raft group. Shares are replicated state:
// they survive the loss of the leader and of a wiped replica. No service ever logs a PIN or an
// access code. Scopes: a read-only client cannot create, revoke or unlock. (A replica that lost its
// disk is shown to catch up and hold the share; a second leader loss after that is not tested.)
// The recipient's side (curl, the download, the page in headless Chromium) is in
// share_recipient_test.cc, compiled into this binary.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/cli_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/share_fixture.h"

namespace medvault {
namespace {

using testing::Cli;
using testing::ExternalCluster;
using testing::JsonField;

// Polls the replica's applied index (a gauge) until it reaches `index`, at most 60 s.
bool WaitForApplied(const ExternalCluster& cluster, const std::string& name, double index) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<double> applied = cluster.Metric(name, "medvault_metaserver_raft_applied_index");
    if (applied.ok() && *applied >= index) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ClusterOptions options;
    options.replicas = 3;
    cluster_ = std::make_unique<ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    testing::CommandResult put =
        Cli(*cluster_, {"put", std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"});
    ASSERT_EQ(put.exit_code, 0) << put.err;
    testing::CommandResult find = Cli(*cluster_, {"find", "--json"});
    ASSERT_EQ(find.exit_code, 0) << find.err;
    study_ = JsonField(find.out, "study_uid");
    ASSERT_FALSE(study_.empty()) << find.out;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  std::string study_;
};

TEST_F(ShareTest, SharesAreReplicatedScopedAndNeverLogTheirSecrets) {
  testing::CommandResult made =
      Cli(*cluster_, {"share", "create", "--study", study_, "--expires", "7d", "--max-uses", "3",
                      "--label", "Dr Who, knee", "--json"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string code = JsonField(made.out, "access_code");
  const std::string pin = JsonField(made.out, "pin");
  const std::string id = JsonField(made.out, "id");
  ASSERT_EQ(code.size(), 31u) << made.out;  // 26 characters and 5 dashes
  ASSERT_EQ(pin.size(), 6u);
  ASSERT_EQ(id.size(), 16u);

  // A study that is not stored cannot be shared (and the error does not echo it).
  testing::CommandResult missing = Cli(*cluster_, {"share", "create", "--study", "1.2.3.999999"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(absl::StrContains(missing.err, "1.2.3.999999")) << missing.err;

  testing::CommandResult list = Cli(*cluster_, {"share", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(absl::StrContains(list.out, id)) << list.out;
  EXPECT_TRUE(absl::StrContains(list.out, "active"));
  EXPECT_FALSE(absl::StrContains(list.out, pin));
  testing::CommandResult by_code = Cli(*cluster_, {"share", "show", code, "--json"});
  ASSERT_EQ(by_code.exit_code, 0) << by_code.err;
  EXPECT_EQ(JsonField(by_code.out, "id"), id);

  // A read-only client may look but not create, revoke or unlock.
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client-readonly"), kFrontendPeer));
  {
    grpc::ClientContext ctx;
    v1::CreateShareRequest req;
    req.add_study_uids(study_);
    v1::CreateShareResponse resp;
    EXPECT_EQ(stub->CreateShare(&ctx, req, &resp).error_code(), grpc::PERMISSION_DENIED);
  }
  for (bool unlock : {false, true}) {
    grpc::ClientContext ctx;
    v1::ShareRequest req;
    req.set_share(id);
    v1::ShareResponse resp;
    grpc::Status s =
        unlock ? stub->UnlockShare(&ctx, req, &resp) : stub->RevokeShare(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::ShareRequest req;
    req.set_share(id);
    v1::ShareResponse resp;
    ASSERT_TRUE(stub->GetShare(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.share().state(), "active");
  }

  // The metaserver leader dies, and a follower loses its disk: the share and its log survive.
  absl::StatusOr<std::string> leader = cluster_->LeaderOf("metaserver");
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(cluster_->Kill(*leader).ok());
  testing::CommandResult unlocked = Cli(*cluster_, {"share", "unlock", id});
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  ASSERT_TRUE(cluster_->Restart(*leader).ok());
  std::string wiped;
  for (const std::string& name : cluster_->Replicas("metaserver")) {
    absl::StatusOr<std::string> now = cluster_->LeaderOf("metaserver");
    ASSERT_TRUE(now.ok());
    if (name != *now) wiped = name;
  }
  ASSERT_TRUE(cluster_->Kill(wiped).ok());
  ASSERT_TRUE(cluster_->Wipe(wiped).ok());
  ASSERT_TRUE(cluster_->Restart(wiped).ok());
  testing::CommandResult revoked = Cli(*cluster_, {"share", "revoke", id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_TRUE(absl::StrContains(revoked.out, "revoked")) << revoked.out;
  // The wiped replica catches up (a snapshot or the log from its leader) ...
  absl::StatusOr<std::string> second = cluster_->LeaderOf("metaserver");
  ASSERT_TRUE(second.ok());
  absl::StatusOr<double> commit =
      cluster_->Metric(*second, "medvault_metaserver_raft_commit_index");
  ASSERT_TRUE(commit.ok());
  ASSERT_TRUE(WaitForApplied(*cluster_, wiped, *commit)) << wiped << " did not catch up";
  // ... and holds the share as revoked: its database or log has the label beside the revocation.
  bool replicated = false;
  for (const auto& [path, content] : testing::ReadFilesUnder(cluster_->DataDirOf(wiped))) {
    if (content.find("Dr Who, knee") != std::string::npos) replicated = true;
  }
  EXPECT_TRUE(replicated) << wiped << " holds no copy of the share";
  testing::CommandResult shown = Cli(*cluster_, {"share", "show", id, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(JsonField(shown.out, "state"), "revoked");
  EXPECT_EQ(JsonField(shown.out, "label"), "Dr Who, knee");
  testing::CommandResult log = Cli(*cluster_, {"share", "log", id});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_TRUE(absl::StrContains(log.out, "unlock")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "revoke")) << log.out;
  EXPECT_TRUE(absl::StrContains(log.out, "client/client")) << log.out;

  // No service logged the PIN or the code, in any spelling.
  testing::ExpectNoLogHolds(*cluster_, code, pin);
}

}  // namespace
}  // namespace medvault
