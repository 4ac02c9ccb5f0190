// Issue 5's authorisation claims with the real binaries over mutual TLS: each service accepts only
// the callers its role allows (a chunk server's certificate cannot get a data key, and the refusal
// is in the key service's audit log); clients of the public API get exactly their scopes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/admin.grpc.pb.h"
#include "medvault/v1/chunkserver.grpc.pb.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "medvault/v1/raft.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;

using testing::ReadWholeFile;

grpc::StatusCode CodeOf(const grpc::Status& s) { return s.error_code(); }

class AccessControlTest : public ::testing::Test {
 protected:
  // One cluster for the suite; each test only adds what it reads back.
  static void SetUpTestSuite() {
    cluster_ = new ExternalCluster();
    started_ = cluster_->Start();
    if (started_.ok()) started_ = testing::MakeDevCerts(cluster_->tls_dir(), {"client-stranger"});
  }
  static void TearDownTestSuite() {
    if (started_.ok()) {
      EXPECT_TRUE(cluster_->Stop().ok());
    }
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_.ok()) << started_; }

  // A channel to `address` (a `peer` service) presenting certificate `as`.
  static std::shared_ptr<grpc::Channel> As(const std::string& as, const std::string& address,
                                           absl::string_view peer) {
    return MakeChannel(address, cluster_->SecurityAs(as), peer);
  }
  static std::unique_ptr<v1::ImageStore::Stub> ImageStoreAs(const std::string& as) {
    return v1::ImageStore::NewStub(As(as, cluster_->frontend(), kFrontendPeer));
  }
  static testing::CommandResult CliAs(const std::string& as, std::vector<std::string> args) {
    const TlsFiles tls = testing::DevTlsFiles(cluster_->tls_dir(), as);
    std::vector<std::string> argv = {ExternalCluster::Binary("medvault"),
                                     "--frontend",
                                     cluster_->frontend(),
                                     "--tls_ca",
                                     tls.ca_file,
                                     "--tls_cert",
                                     tls.cert_file,
                                     "--tls_key",
                                     tls.key_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }
  // Stores pydicom's `file` through the all-scopes client; returns its response.
  static v1::PutInstanceResponse Put(const std::string& file) {
    auto stub = ImageStoreAs("client");
    auto put = testing::PutInstance(
        stub.get(), ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file));
    EXPECT_TRUE(put.ok()) << put.status();
    return put.ok() ? *put : v1::PutInstanceResponse();
  }
  // The object id of a stored instance, read from the metaserver as the frontend.
  static std::string ObjectIdOf(const std::string& sop_uid) {
    auto meta =
        v1::MetaService::NewStub(cluster_->Channel(cluster_->metaserver(), kMetaServerPeer));
    grpc::ClientContext ctx;
    v1::GetInstanceMetaRequest req;
    req.set_sop_instance_uid(sop_uid);
    v1::GetInstanceMetaResponse resp;
    grpc::Status s = meta->GetInstance(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.manifest().object_id();
  }
  static std::string AllLogs() {
    std::string all;
    for (const std::string& log : cluster_->log_files()) all += ReadWholeFile(log);
    return all;
  }

  static ExternalCluster* cluster_;
  static absl::Status started_;
};
ExternalCluster* AccessControlTest::cluster_ = nullptr;
absl::Status AccessControlTest::started_;

TEST_F(AccessControlTest, OnlyTheFrontendGetsDataKeysAndRefusalsAreAudited) {
  const v1::PutInstanceResponse put = Put("CT_small.dcm");
  const std::string object_id = ObjectIdOf(put.sop_instance_uid());
  ASSERT_EQ(object_id.size(), 16u);
  // A read through the public API releases the key on the client's behalf.
  auto client = ImageStoreAs("client");
  ASSERT_TRUE(testing::GetInstance(client.get(), put.sop_instance_uid()).ok());

  // A chunk server's (valid, same-CA) certificate asks the key service for that key.
  for (const std::string& who :
       {std::string("chunkserver-0"), std::string("client"), std::string("metaserver")}) {
    auto keys = v1::KeyService::NewStub(As(who, cluster_->keyservice(), kKeyServicePeer));
    grpc::ClientContext ctx;
    v1::GetDataKeyRequest req;
    req.set_object_id(object_id);
    v1::GetDataKeyResponse resp;
    grpc::Status s = keys->GetDataKey(&ctx, req, &resp);
    EXPECT_EQ(CodeOf(s), grpc::StatusCode::PERMISSION_DENIED) << who << ": " << s.error_message();
    EXPECT_TRUE(resp.key().key().empty());
    grpc::ClientContext gen_ctx;
    v1::GenerateDataKeysRequest gen;
    gen.set_count(1);
    v1::GenerateDataKeysResponse gen_resp;
    EXPECT_EQ(CodeOf(keys->GenerateDataKeys(&gen_ctx, gen, &gen_resp)),
              grpc::StatusCode::PERMISSION_DENIED)
        << who;
    EXPECT_EQ(gen_resp.keys_size(), 0);
  }

  // The audit log, queried by object through the CLI (admin scope): generation by the frontend,
  // release on the client's behalf, and each refusal with the refused caller.
  testing::CommandResult audit =
      CliAs("client", {"audit", "--object", absl::BytesToHexString(object_id)});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(absl::StrContains(audit.out, " generate caller=frontend/frontend")) << audit.out;
  EXPECT_TRUE(absl::StrContains(
      audit.out,
      " release caller=frontend/frontend on_behalf_of=client/client purpose=GetInstance result=OK"))
      << audit.out;
  EXPECT_TRUE(absl::StrContains(audit.out,
                                " deny caller=chunkserver/chunkserver-0 on_behalf_of=- "
                                "purpose=GetDataKey result=PERMISSION_DENIED"))
      << audit.out;
  EXPECT_TRUE(absl::StrContains(audit.out, " deny caller=client/client")) << audit.out;
  EXPECT_TRUE(absl::StrContains(audit.out, " deny caller=metaserver/metaserver")) << audit.out;
  // By time range: the refusal of the generation (no object) is there too.
  testing::CommandResult by_time = CliAs("client", {"audit", "--since", "1000000000", "--json"});
  ASSERT_EQ(by_time.exit_code, 0) << by_time.err;
  EXPECT_TRUE(absl::StrContains(
      by_time.out,
      "\"purpose\":\"GenerateDataKeys\",\"peer\":\"\",\"result\":\"PERMISSION_DENIED\""))
      << by_time.out;
  // And as structured log lines of the key service.
  EXPECT_TRUE(absl::StrContains(AllLogs(), "audit op=deny caller=chunkserver/chunkserver-0"));
}

TEST_F(AccessControlTest, ClientsGetExactlyTheirScopes) {
  const v1::PutInstanceResponse put = Put("MR_small.dcm");
  const std::string ct = ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm");

  auto readonly = ImageStoreAs("client-readonly");
  EXPECT_TRUE(testing::GetInstance(readonly.get(), put.sop_instance_uid()).ok());
  {
    grpc::ClientContext ctx;
    v1::DeleteStudyRequest req;
    req.set_study_uid(put.study_uid());
    v1::DeleteStudyResponse resp;
    grpc::Status s = readonly->DeleteStudy(&ctx, req, &resp);
    EXPECT_EQ(CodeOf(s), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "lacks the delete scope"))
        << s.error_message();
  }
  EXPECT_EQ(testing::PutInstance(readonly.get(), ct).status().code(),
            absl::StatusCode::kPermissionDenied);
  testing::CommandResult rm = CliAs("client-readonly", {"rm", "--study", put.study_uid()});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(rm.err, "PERMISSION_DENIED")) << rm.err;
  testing::CommandResult kek = CliAs("client-readonly", {"kek", "status"});
  EXPECT_EQ(kek.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(kek.err, "PERMISSION_DENIED")) << kek.err;

  // A certificate of the right CA whose name has no scopes may do nothing.
  auto stranger = ImageStoreAs("client-stranger");
  grpc::ClientContext ctx;
  v1::FindStudiesResponse found;
  EXPECT_EQ(CodeOf(stranger->FindStudies(&ctx, v1::FindStudiesRequest(), &found)),
            grpc::StatusCode::PERMISSION_DENIED);
  // A service certificate is not a client either.
  auto chunkserver = ImageStoreAs("chunkserver-0");
  EXPECT_EQ(testing::GetInstance(chunkserver.get(), put.sop_instance_uid()).status().code(),
            absl::StatusCode::kPermissionDenied);

  // Nothing was deleted: the all-scopes client still reads the study.
  auto client = ImageStoreAs("client");
  EXPECT_TRUE(testing::GetInstance(client.get(), put.sop_instance_uid()).ok());
  // The frontend's refusals are in the key service's audit log too, naming the client.
  testing::CommandResult audit = CliAs("client", {"audit", "--since", "1000000000"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(
      absl::StrContains(audit.out,
                        " deny caller=frontend/frontend on_behalf_of=client/client-readonly "
                        "purpose=DeleteStudy result=PERMISSION_DENIED"))
      << audit.out;
  EXPECT_TRUE(
      absl::StrContains(audit.out, "on_behalf_of=client/client-stranger purpose=FindStudies"))
      << audit.out;
  testing::CommandResult status = CliAs("client", {"kek", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "active KEK version: 1")) << status.out;
}

TEST_F(AccessControlTest, EachServiceAcceptsOnlyTheCallersItsRoleAllows) {
  const std::string cs0 = cluster_->chunkservers()[0], cs1 = cluster_->chunkservers()[1];
  // A chunk server may heartbeat but not allocate, read the catalog, or call another chunk server.
  {
    auto meta =
        v1::MetaService::NewStub(As("chunkserver-0", cluster_->metaserver(), kMetaServerPeer));
    grpc::ClientContext ctx;
    v1::AllocateChunksRequest req;
    req.set_chunk_count(1);
    req.set_replicas(1);
    v1::AllocateChunksResponse resp;
    EXPECT_EQ(CodeOf(meta->AllocateChunks(&ctx, req, &resp)), grpc::StatusCode::PERMISSION_DENIED);
  }
  auto list_as = [&](const std::string& who, const std::string& address) {
    auto chunks = v1::ChunkService::NewStub(As(who, address, kChunkServerPeer));
    grpc::ClientContext ctx;
    v1::ListChunksResponse resp;
    return CodeOf(chunks->ListChunks(&ctx, v1::ListChunksRequest(), &resp));
  };
  EXPECT_EQ(list_as("chunkserver-0", cs1), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list_as("client", cs1), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list_as("keyservice", cs1), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list_as("frontend", cs1), grpc::StatusCode::OK);
  EXPECT_EQ(list_as("metaserver", cs0), grpc::StatusCode::OK);
  {
    auto chunks = v1::ChunkService::NewStub(As("chunkserver-0", cs1, kChunkServerPeer));
    grpc::ClientContext ctx;
    v1::WriteChunkRequest req;
    req.set_chunk_id(std::string(16, 'c'));
    req.set_data("x");
    v1::WriteChunkResponse resp;
    EXPECT_EQ(CodeOf(chunks->WriteChunk(&ctx, req, &resp)), grpc::StatusCode::PERMISSION_DENIED);
  }
  // A client may not read the catalog directly.
  {
    auto meta = v1::MetaService::NewStub(As("client", cluster_->metaserver(), kMetaServerPeer));
    grpc::ClientContext ctx;
    v1::FindStudiesMetaResponse resp;
    EXPECT_EQ(CodeOf(meta->FindStudies(&ctx, v1::FindStudiesMetaRequest(), &resp)),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Nobody but a fellow replica may speak Raft to the key service or the metaserver.
  for (const auto& [address, peer] :
       {std::make_pair(cluster_->keyservice(), std::string(kKeyServicePeer)),
        std::make_pair(cluster_->metaserver(), std::string(kMetaServerPeer))}) {
    auto raft = v1::RaftService::NewStub(As("frontend", address, peer));
    grpc::ClientContext ctx;
    v1::RaftMessageAck ack;
    EXPECT_EQ(CodeOf(raft->Send(&ctx, v1::RaftMessageBatch(), &ack)),
              grpc::StatusCode::PERMISSION_DENIED)
        << peer;
  }
  // Each refusal is a structured log line naming the caller.
  const std::string logs = AllLogs();
  EXPECT_TRUE(absl::StrContains(
      logs,
      "audit op=deny service=metaserver method=AllocateChunks caller=chunkserver/chunkserver-0"));
  EXPECT_TRUE(absl::StrContains(
      logs,
      "audit op=deny service=chunkserver method=ListChunks caller=chunkserver/chunkserver-0"));
  EXPECT_TRUE(absl::StrContains(
      logs, "audit op=deny service=keyservice_raft method=Send caller=frontend/frontend"));
  // The cluster still works for the callers that are allowed.
  const v1::PutInstanceResponse put = Put("JPEG2000.dcm");
  auto client = ImageStoreAs("client");
  EXPECT_TRUE(testing::GetInstance(client.get(), put.sop_instance_uid()).ok());
}

}  // namespace
}  // namespace medvault
