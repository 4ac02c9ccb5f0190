#include "keyservice/service/key_service.h"

#include <atomic>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/rpc.h"
#include "common/testing/policy_table.h"
#include "common/testing/temp_dir.h"

namespace medvault::keyservice {
namespace {

double MetricValue(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name || family.metric.empty()) continue;
    const auto& m = family.metric[0];
    if (family.type == prometheus::MetricType::Histogram) {
      return static_cast<double>(m.histogram.sample_count);
    }
    return m.counter.value;
  }
  ADD_FAILURE() << "no metric " << name;
  return -1;
}

// The database's own writer, or (when `fail` is set) a group that cannot commit.
class FailableWriter : public KvWriter {
 public:
  explicit FailableWriter(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    if (fail) return absl::UnavailableError("no quorum");
    return kv_->Write(batch);
  }
  std::atomic<bool> fail{false};

 private:
  KvStore* const kv_;
};

// The real service on 127.0.0.1:0 over a real RocksDB, called through a gRPC stub.
class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(keks_.Add(1, SecretBytes(RandomBytes(kAesKeyBytes).value())).ok());
    auto kv = KvStore::Open(dir_.path() + "/db", KeyStoreColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    writer_ = std::make_unique<FailableWriter>(kv_.get());
    store_ = std::make_unique<KeyStore>(kv_.get(), &keks_, &clock_, writer_.get());
    runner_ = std::make_unique<ServiceRunner>(
        ServerOptions{"keyservice", "127.0.0.1:0", "", TransportSecurity::InsecurePlaintext(), ""});
    service_ = std::make_unique<KeyServiceImpl>(store_.get(), runner_->registry(),
                                                /*enforce_access=*/false);
    runner_->AddService(service_.get());
    ASSERT_TRUE(runner_->Start().ok());
    stub_ = v1::KeyService::NewStub(MakeChannel(
        runner_->bound_address(), TransportSecurity::InsecurePlaintext(), kKeyServicePeer));
  }

  void TearDown() override {
    stub_.reset();
    runner_.reset();  // shuts the server down before the service and store go away
  }

  double Metric(const std::string& name) { return MetricValue(runner_->registry(), name); }

  testing::TempDir dir_;
  FakeClock clock_;
  KekRing keks_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<FailableWriter> writer_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KeyServiceImpl> service_;
  std::unique_ptr<ServiceRunner> runner_;
  std::unique_ptr<v1::KeyService::Stub> stub_;
};

TEST_F(KeyServiceTest, GenerateGetDestroyOverGrpc) {
  v1::GenerateDataKeysRequest gen_req;
  gen_req.set_count(3);
  v1::GenerateDataKeysResponse gen_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GenerateDataKeys(&ctx, gen_req, &gen_resp).ok());
  }
  ASSERT_EQ(gen_resp.keys_size(), 3);
  for (const v1::DataKey& k : gen_resp.keys()) {
    EXPECT_EQ(k.object_id().size(), kObjectIdBytes);
    EXPECT_EQ(k.key().size(), kAesKeyBytes);
    v1::GetDataKeyRequest req;
    req.set_object_id(k.object_id());
    v1::GetDataKeyResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GetDataKey(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.key().object_id(), k.object_id());
    EXPECT_EQ(resp.key().key(), k.key());
  }

  v1::DestroyDataKeysRequest destroy_req;
  destroy_req.add_object_ids(gen_resp.keys(0).object_id());
  destroy_req.add_object_ids(gen_resp.keys(1).object_id());
  for (uint32_t expected : {2u, 0u}) {
    v1::DestroyDataKeysResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->DestroyDataKeys(&ctx, destroy_req, &resp).ok());
    EXPECT_EQ(resp.destroyed(), expected);
  }
  {
    v1::GetDataKeyRequest req;
    req.set_object_id(gen_resp.keys(0).object_id());
    v1::GetDataKeyResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetDataKey(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }

  EXPECT_EQ(Metric("medvault_keyservice_keys_generated_total"), 3);
  EXPECT_EQ(Metric("medvault_keyservice_keys_released_total"), 3);
  EXPECT_EQ(Metric("medvault_keyservice_keys_destroyed_total"), 2);
  EXPECT_EQ(Metric("medvault_keyservice_request_errors_total"), 1);
  EXPECT_EQ(Metric("medvault_keyservice_generate_latency_seconds"), 1);
}

// Every operation whose audit record cannot be committed counts once: a release (its record is
// written on its own), a generation (the record commits with the keys), and nothing else.
TEST_F(KeyServiceTest, FailedAuditWritesAreCounted) {
  v1::GenerateDataKeysRequest gen_req;
  gen_req.set_count(1);
  v1::GenerateDataKeysResponse gen_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GenerateDataKeys(&ctx, gen_req, &gen_resp).ok());
  }
  EXPECT_EQ(Metric("medvault_keyservice_audit_write_failures_total"), 0);

  writer_->fail = true;
  {
    v1::GetDataKeyRequest req;
    req.set_object_id(gen_resp.keys(0).object_id());
    v1::GetDataKeyResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetDataKey(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(Metric("medvault_keyservice_audit_write_failures_total"), 1);
  {
    v1::GenerateDataKeysResponse resp;
    grpc::ClientContext ctx;
    EXPECT_FALSE(stub_->GenerateDataKeys(&ctx, gen_req, &resp).ok());
  }
  EXPECT_EQ(Metric("medvault_keyservice_audit_write_failures_total"), 2);

  writer_->fail = false;
  {
    v1::GetDataKeyRequest req;
    req.set_object_id(gen_resp.keys(0).object_id());
    v1::GetDataKeyResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->GetDataKey(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Metric("medvault_keyservice_audit_write_failures_total"), 2);
}

// The batch release over gRPC: one entry per id in order, a destroyed key refused in its entry.
TEST_F(KeyServiceTest, GetDataKeysReleasesASetAndRefusesDestroyedKeysOneByOne) {
  v1::GenerateDataKeysRequest gen_req;
  gen_req.set_count(3);
  v1::GenerateDataKeysResponse gen_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GenerateDataKeys(&ctx, gen_req, &gen_resp).ok());
  }
  {
    v1::DestroyDataKeysRequest req;
    req.add_object_ids(gen_resp.keys(1).object_id());
    v1::DestroyDataKeysResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->DestroyDataKeys(&ctx, req, &resp).ok());
  }
  v1::GetDataKeysRequest req;
  for (const v1::DataKey& k : gen_resp.keys()) req.add_object_ids(k.object_id());
  req.mutable_audit()->set_purpose("RetrieveStudy");
  v1::GetDataKeysResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetDataKeys(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.keys_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(resp.keys(i).key().object_id(), gen_resp.keys(i).object_id());
    if (i == 1) {
      EXPECT_EQ(resp.keys(i).refused(), "NOT_FOUND");
      EXPECT_TRUE(resp.keys(i).key().key().empty());
    } else {
      EXPECT_EQ(resp.keys(i).refused(), "");
      EXPECT_EQ(resp.keys(i).key().key(), gen_resp.keys(i).key());
    }
  }
  EXPECT_EQ(Metric("medvault_keyservice_keys_released_total"), 2);
  {
    v1::GetDataKeysRequest empty;
    grpc::ClientContext ctx2;
    EXPECT_EQ(stub_->GetDataKeys(&ctx2, empty, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(KeyServiceTest, InvalidRequestsMapToInvalidArgument) {
  {
    v1::GenerateDataKeysRequest req;
    req.set_count(1001);
    v1::GenerateDataKeysResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GenerateDataKeys(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::GetDataKeyRequest req;
    req.set_object_id("short");
    v1::GetDataKeyResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetDataKey(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::DestroyDataKeysRequest req;
    req.add_object_ids("");
    v1::DestroyDataKeysResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->DestroyDataKeys(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(Metric("medvault_keyservice_request_errors_total"), 3);
  EXPECT_EQ(Metric("medvault_keyservice_keys_generated_total"), 0);
}

// The real table, caller by caller: only the frontend obtains or creates a data key or reads the
// audit log; the metaserver may only destroy keys (its retention task); a chunk server or a client
// holding every scope may do nothing.
TEST(KeyServicePolicyTest, OnlyTheFrontendMayCallTheKeyService) {
  const std::set<std::string> frontend = {"frontend/frontend"};
  const medvault::testing::PolicyTable table = {
      {"GenerateDataKeys", frontend},
      {"GetDataKey", frontend},
      {"DestroyDataKeys", {"frontend/frontend", "metaserver/metaserver"}},
      {"QueryAudit", frontend},
      {"RecordDenial", frontend},
      {"GetKekStatus", frontend},
      {"RotateKek", frontend},
      {"RetireKek", frontend},
      {"VerifyAudit", frontend},
      {"GetDataKeys", frontend},
      {"RecordShareEvent", frontend}};
  EXPECT_THAT(medvault::testing::PolicyTableMismatches(KeyServicePolicy(),
                                                       {"medvault.v1.KeyService"}, table),
              ::testing::IsEmpty());
}

}  // namespace
}  // namespace medvault::keyservice
