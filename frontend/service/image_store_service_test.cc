// The frontend's real access policy, caller by caller: clients act by scope; no service role
// (which holds no scope) may call the public API or the admin API.
#include "frontend/service/image_store_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/policy_table.h"
#include "medvault/v1/admin.pb.h"

namespace medvault::frontend {
namespace {

TEST(FrontendPolicyTest, EachMethodNeedsItsScopeAndServicesHoldNone) {
  // admin.proto declares a service and no message, so nothing else in this binary makes the
  // linker keep its descriptor; without it the Admin service is missing from the generated pool.
  const void* volatile keep_admin_proto = &descriptor_table_medvault_2fv1_2fadmin_2eproto;
  (void)keep_admin_proto;
  const std::set<std::string> readers = {"client/reader"};
  const std::set<std::string> deleters = {"client/deleter"};
  const std::set<std::string> admins = {"client/admin"};
  const medvault::testing::PolicyTable table = {{"PutInstance", {"client/writer"}},
                                                {"GetInstance", readers},
                                                {"FindStudies", readers},
                                                {"GetStudy", readers},
                                                {"FindSeries", readers},
                                                {"FindInstances", readers},
                                                {"DeleteStudy", deleters},
                                                {"DeleteInstance", deleters},
                                                {"CreateShare", {"client/writer"}},
                                                {"ListShares", readers},
                                                {"GetShare", readers},
                                                {"RevokeShare", {"client/writer"}},
                                                {"UnlockShare", admins},
                                                {"GetShareLog", readers},
                                                {"RetrieveStudy", readers},
                                                {"QueryAudit", admins},
                                                {"GetKekStatus", admins},
                                                {"RotateKek", admins},
                                                {"RetireKek", admins},
                                                {"ListChunkServers", admins},
                                                {"DrainChunkServer", admins},
                                                {"StartScrub", admins},
                                                {"GetScrubStatus", admins},
                                                {"CheckIndex", admins},
                                                {"GetRaftStatus", admins},
                                                {"AddRaftMember", admins},
                                                {"RemoveRaftMember", admins},
                                                {"TransferRaftLeader", admins},
                                                {"VerifyAudit", {"client/admin", "client/auditor"}},
                                                {"TakeBackup", admins},
                                                {"SetRetention", deleters},
                                                {"SetLegalHold", admins},
                                                {"StreamBackup", admins}};
  EXPECT_THAT(medvault::testing::PolicyTableMismatches(
                  FrontendPolicy(medvault::testing::OneScopeClients()),
                  {"medvault.v1.ImageStore", "medvault.v1.Admin"}, table),
              ::testing::IsEmpty());
}

TEST(FrontendPolicyTest, ShareSessionsMayOnlyReadInstancesAndStudies) {
  const AccessPolicy policy = FrontendPolicy(medvault::testing::OneScopeClients());
  const PeerIdentity session{true, kShareSessionRole, "0123456789abcdef"};
  EXPECT_TRUE(policy.Check(session, "GetInstance").ok());
  EXPECT_TRUE(policy.Check(session, "GetStudy").ok());
  for (const char* method :
       {"FindStudies", "PutInstance", "DeleteStudy", "CreateShare", "ListShares", "GetShare",
        "RevokeShare", "GetShareLog", "QueryAudit"}) {
    EXPECT_FALSE(policy.Check(session, method).ok()) << method;
  }
}

}  // namespace
}  // namespace medvault::frontend
