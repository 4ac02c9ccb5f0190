// Authorisation cores: identities read from real development certificates, the scopes file, and
// the role and scope rules. Calls through real mutual-TLS processes are in tests/mtls_test.cc.
#include "common/access_policy.h"

#include <gtest/gtest.h>

#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"

namespace medvault {
namespace {

using ::medvault::testing::ReadWholeFile;

PeerIdentity As(const std::string& role, const std::string& name) {
  return PeerIdentity{true, role, name};
}

TEST(PeerIdentityTest, ReadsRoleAndNameFromDevelopmentCertificates) {
  testing::TempDir dir;
  ASSERT_TRUE(
      testing::MakeDevCerts(dir.path(), {"chunkserver-2", "client-readonly", "frontend"}).ok());
  absl::StatusOr<PeerIdentity> cs =
      IdentityFromCertificatePem(ReadWholeFile(dir.path() + "/chunkserver-2.crt"));
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(cs->role, "chunkserver");
  EXPECT_EQ(cs->name, "chunkserver-2");
  EXPECT_EQ(cs->ToString(), "chunkserver/chunkserver-2");
  absl::StatusOr<PeerIdentity> ro =
      IdentityFromCertificatePem(ReadWholeFile(dir.path() + "/client-readonly.crt"));
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ(ro->role, "client");
  EXPECT_EQ(ro->name, "client-readonly");
  absl::StatusOr<PeerIdentity> fe =
      IdentityFromCertificatePem(ReadWholeFile(dir.path() + "/frontend.crt"));
  ASSERT_TRUE(fe.ok()) << fe.status();
  EXPECT_EQ(fe->role, "frontend");
}

TEST(PeerIdentityTest, CaCertificateWithoutRoleIsRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::MakeDevCerts(dir.path(), {"frontend"}).ok());
  // The CA's subject has no OU: it names no role, so it can never be mistaken for one.
  absl::StatusOr<PeerIdentity> ca =
      IdentityFromCertificatePem(ReadWholeFile(dir.path() + "/ca.crt"));
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IdentityFromCertificatePem("not a certificate").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PeerIdentityTest, CacheKeepsEachGoodCertificateOnceAndNeverAnError) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::MakeDevCerts(dir.path(), {"frontend", "chunkserver-1", "metaserver"}).ok());
  IdentityCache cache(/*capacity=*/2);
  const std::string fe = ReadWholeFile(dir.path() + "/frontend.crt");
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<PeerIdentity> who = cache.Identify(fe);
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->ToString(), "frontend/frontend");
  }
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Identify(ReadWholeFile(dir.path() + "/ca.crt")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Identify("not a certificate").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.Identify(ReadWholeFile(dir.path() + "/chunkserver-1.crt")).ok());
  EXPECT_EQ(cache.size(), 2u);
  // Full: it starts over rather than growing, and still answers correctly.
  absl::StatusOr<PeerIdentity> meta = cache.Identify(ReadWholeFile(dir.path() + "/metaserver.crt"));
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->role, "metaserver");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ClientScopesTest, ParsesTheFileFormat) {
  absl::StatusOr<ClientScopes> scopes = ClientScopes::Parse(
      "# who may do what\n"
      "client  read,write,delete,admin\n"
      "\n"
      "viewer\tread   # a physician viewer\n");
  ASSERT_TRUE(scopes.ok()) << scopes.status();
  EXPECT_EQ(scopes->size(), 2u);
  EXPECT_TRUE(scopes->Has("client", Scope::kAdmin));
  EXPECT_TRUE(scopes->Has("viewer", Scope::kRead));
  EXPECT_FALSE(scopes->Has("viewer", Scope::kDelete));
  EXPECT_FALSE(scopes->Has("stranger", Scope::kRead));
}

TEST(ClientScopesTest, BadLinesNameTheLine) {
  for (const char* text :
       {"viewer\n", "viewer read,erase\n", "a read\na write\n", "a read write\n"}) {
    absl::StatusOr<ClientScopes> scopes = ClientScopes::Parse(text);
    EXPECT_EQ(scopes.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(scopes.status().message().find("line"), std::string::npos) << scopes.status();
  }
}

TEST(AccessPolicyTest, RolesScopesAndDefaultDeny) {
  AccessPolicy policy;
  policy.AllowRoles("GetDataKey", {"frontend"}).AllowScope("DeleteStudy", Scope::kDelete);
  ClientScopes scopes;
  scopes.Grant("admin", Scope::kDelete);
  scopes.Grant("viewer", Scope::kRead);
  policy.set_client_scopes(scopes);

  EXPECT_TRUE(policy.Check(As("frontend", "frontend"), "GetDataKey").ok());
  absl::Status denied = policy.Check(As("chunkserver", "chunkserver-1"), "GetDataKey");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "chunkserver/chunkserver-1 may not call GetDataKey");
  EXPECT_TRUE(policy.Check(As("client", "admin"), "DeleteStudy").ok());
  absl::Status viewer = policy.Check(As("client", "viewer"), "DeleteStudy");
  EXPECT_EQ(viewer.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(viewer.message(), "client viewer lacks the delete scope needed for DeleteStudy");
  // A service role never gets a client scope, a client never a role's method, and a method
  // without a rule is denied to everyone.
  EXPECT_FALSE(policy.Check(As("frontend", "frontend"), "DeleteStudy").ok());
  EXPECT_FALSE(policy.Check(As("client", "admin"), "GetDataKey").ok());
  EXPECT_FALSE(policy.Check(As("frontend", "frontend"), "Unlisted").ok());
  EXPECT_FALSE(policy.Check(PeerIdentity{}, "GetDataKey").ok());
  EXPECT_TRUE(policy.Covers("GetDataKey"));
  EXPECT_FALSE(policy.Covers("Unlisted"));
}

}  // namespace
}  // namespace medvault
