// The RaftService's real access policy, caller by caller: fellow replicas send Raft messages; only
// the frontend (forwarding admin-scoped clients) reads the status or changes membership.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/policy_table.h"
#include "raft/grpc_transport.h"

namespace medvault::raft {
namespace {

TEST(RaftServicePolicyTest, ReplicasSendAndOnlyTheFrontendAdministers) {
  for (const std::string service : {"metaserver", "keyservice"}) {
    const std::set<std::string> replicas = {service + "/" + service};
    const std::set<std::string> frontend = {"frontend/frontend"};
    const medvault::testing::PolicyTable table = {
        {"Send", replicas},         {"SendLarge", replicas},    {"GetStatus", frontend},
        {"AddMember", frontend},    {"RemoveMember", frontend}, {"TransferLeader", frontend},
        {"TakeSnapshot", frontend}, {"StreamBackup", frontend}, {"InstallSnapshot", replicas}};
    EXPECT_THAT(medvault::testing::PolicyTableMismatches(RaftServicePolicy(service),
                                                         {"medvault.v1.RaftService"}, table),
                ::testing::IsEmpty())
        << service;
  }
}

}  // namespace
}  // namespace medvault::raft
