// MetaServiceImpl handlers called directly (no network): request -> core -> response mapping,
// status codes and metrics.
#include "metaserver/service/meta_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/policy_table.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using testing::Tags;

class NoChunkServers : public ChunkServerClient {
 public:
  absl::Status DeleteChunks(const std::string&, const std::vector<std::string>& ids) override {
    deleted += ids.size();
    return absl::OkStatus();
  }
  absl::StatusOr<ChunkListPage> ListChunks(const std::string&, absl::string_view,
                                           uint32_t) override {
    return ChunkListPage();
  }
  absl::StatusOr<ChunkBytes> ReadChunk(const std::string&, const std::string&) override {
    return absl::NotFoundError("none");
  }
  absl::Status WriteChunk(const std::string&, const std::string&, const std::string&,
                          uint32_t) override {
    return absl::UnavailableError("none");
  }
  size_t deleted = 0;
};

class MetaServiceTest : public CatalogTestBase {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<ChunkServerRegistry>(kv_.get(), &clock_, RegistryOptions(), 7);
    gc_ = std::make_unique<GarbageCollector>(catalog_.get(), registry_.get(), &chunks_, &clock_);
    metrics_ = std::make_unique<MetaMetrics>(prometheus_);
    repairer_ = std::make_unique<Repairer>(catalog_.get(), registry_.get(), &chunks_, &clock_,
                                           RepairOptions());
    service_ = std::make_unique<MetaServiceImpl>(catalog_.get(), registry_.get(), gc_.get(),
                                                 repairer_.get(), &clock_, metrics_.get(), 3600,
                                                 kMinOrphanGraceSeconds);
  }

  grpc::Status Beat(const std::string& id, const std::string& domain) {
    v1::HeartbeatRequest req;
    req.mutable_server()->set_server_id(id);
    req.mutable_server()->set_address("host-" + id + ":7000");
    req.mutable_server()->set_failure_domain(domain);
    req.mutable_server()->set_free_bytes(1ull << 40);
    v1::HeartbeatResponse resp;
    return service_->Heartbeat(&ctx_, &req, &resp);
  }

  // Allocates placement for `n` chunks and commits an instance with that manifest.
  v1::CommitInstanceResponse AllocateAndCommit(const std::string& sop, int n) {
    v1::AllocateChunksRequest alloc;
    alloc.set_chunk_count(n);
    alloc.set_replicas(3);
    v1::AllocateChunksResponse placed;
    grpc::Status s = service_->AllocateChunks(&ctx_, &alloc, &placed);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::CommitInstanceRequest req;
    *req.mutable_tags() = Tags("1.2", "1.2.1", sop);
    v1::ObjectManifest* m = req.mutable_manifest();
    m->set_object_id(RandomBytes(16).value());
    m->set_sha256(Sha256(sop));
    m->set_size(42);
    for (const auto& p : placed.chunks()) {
      v1::ChunkLocation* c = m->add_chunks();
      c->set_chunk_id(p.chunk_id());
      for (const auto& server : p.servers()) c->add_server_ids(server.server_id());
    }
    v1::CommitInstanceResponse resp;
    s = service_->CommitInstance(&ctx_, &req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  FakeClock clock_;
  NoChunkServers chunks_;
  prometheus::Registry prometheus_;
  prometheus::Registry prometheus_other_;  // a second service's metrics
  grpc::ServerContext ctx_;
  std::unique_ptr<ChunkServerRegistry> registry_;
  std::unique_ptr<GarbageCollector> gc_;
  std::unique_ptr<Repairer> repairer_;
  std::unique_ptr<MetaMetrics> metrics_;
  std::unique_ptr<MetaServiceImpl> service_;
};

TEST_F(MetaServiceTest, PlacementHintsWhetherTheInstanceIsStored) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Beat(id, std::string("rack-") + id).ok());
  v1::AllocateChunksRequest alloc;
  alloc.set_chunk_count(1);
  alloc.set_replicas(3);
  alloc.set_sop_instance_uid("9.9.9");
  v1::AllocateChunksResponse placed;
  ASSERT_TRUE(service_->AllocateChunks(&ctx_, &alloc, &placed).ok());
  EXPECT_FALSE(placed.instance_exists());
  EXPECT_EQ(placed.chunks_size(), 1);
  AllocateAndCommit("9.9.9", 1);
  placed.Clear();
  ASSERT_TRUE(service_->AllocateChunks(&ctx_, &alloc, &placed).ok());
  EXPECT_TRUE(placed.instance_exists());
  EXPECT_EQ(placed.chunks_size(), 1);
  alloc.set_sop_instance_uid(std::string("bad\0uid", 7));
  EXPECT_EQ(service_->AllocateChunks(&ctx_, &alloc, &placed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MetaServiceTest, PlacementSkipsExcludedServersAndBoundsTheList) {
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(Beat(id, std::string("rack-") + id).ok());
  v1::AllocateChunksRequest alloc;
  alloc.set_chunk_count(50);
  alloc.set_replicas(3);
  alloc.add_exclude_server_ids("c");
  v1::AllocateChunksResponse placed;
  ASSERT_TRUE(service_->AllocateChunks(&ctx_, &alloc, &placed).ok());
  for (const auto& p : placed.chunks()) {
    for (const auto& s : p.servers()) EXPECT_NE(s.server_id(), "c");
  }
  for (int i = 0; i < 16; ++i) alloc.add_exclude_server_ids("x" + std::to_string(i));
  EXPECT_EQ(service_->AllocateChunks(&ctx_, &alloc, &placed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MetaServiceTest, StoreFindReadDeleteRoundTrip) {
  v1::AllocateChunksRequest alloc;
  alloc.set_chunk_count(1);
  alloc.set_replicas(3);
  v1::AllocateChunksResponse placed;
  EXPECT_EQ(service_->AllocateChunks(&ctx_, &alloc, &placed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Beat(id, std::string("rack-") + id).ok());
  EXPECT_EQ(metrics_->chunkservers_up.Value(), 3);
  EXPECT_EQ(Beat("", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::CommitInstanceResponse committed = AllocateAndCommit("1.2.1.1", 4);
  EXPECT_FALSE(committed.already_stored());
  EXPECT_EQ(metrics_->commits.Value(), 1);

  v1::GetInstanceMetaRequest get;
  get.set_sop_instance_uid("1.2.1.1");
  v1::GetInstanceMetaResponse got;
  ASSERT_TRUE(service_->GetInstance(&ctx_, &get, &got).ok());
  EXPECT_EQ(got.manifest().chunks_size(), 4);
  EXPECT_EQ(got.server_addresses().size(), 3u);
  EXPECT_EQ(got.server_addresses().at("a"), "host-a:7000");

  v1::FindStudiesMetaRequest find;
  find.mutable_query()->set_patient_id("PAT1");
  v1::FindStudiesMetaResponse found;
  ASSERT_TRUE(service_->FindStudies(&ctx_, &find, &found).ok());
  ASSERT_EQ(found.page().studies_size(), 1);
  EXPECT_EQ(found.page().studies(0).instance_count(), 1u);

  v1::GetStudyMetaRequest get_study;
  get_study.set_study_uid("1.2");
  v1::GetStudyMetaResponse study;
  ASSERT_TRUE(service_->GetStudy(&ctx_, &get_study, &study).ok());
  ASSERT_EQ(study.series_size(), 1);
  EXPECT_EQ(study.series(0).instances_size(), 1);

  v1::DeleteStudyMetaRequest del;
  del.set_study_uid("1.2");
  v1::DeleteMetaResponse deleted;
  ASSERT_TRUE(service_->DeleteStudy(&ctx_, &del, &deleted).ok());
  EXPECT_EQ(deleted.instances_deleted(), 1u);
  ASSERT_EQ(deleted.object_ids_size(), 1);
  EXPECT_EQ(service_->GetInstance(&ctx_, &get, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ConfirmKeysDestroyedRequest confirm;
  confirm.add_object_ids(deleted.object_ids(0));
  v1::ConfirmKeysDestroyedResponse confirmed;
  ASSERT_TRUE(service_->ConfirmKeysDestroyed(&ctx_, &confirm, &confirmed).ok());
  v1::RunGarbageCollectionRequest gc;
  v1::RunGarbageCollectionResponse gc_done;
  ASSERT_TRUE(service_->RunGarbageCollection(&ctx_, &gc, &gc_done).ok());
  EXPECT_EQ(gc_done.deleted_chunks_reclaimed(), 12u);
  EXPECT_EQ(gc_done.tombstones_pending(), 0u);
  EXPECT_EQ(metrics_->gc_chunks_reclaimed.Value(), 12);
  EXPECT_EQ(service_->DeleteStudy(&ctx_, &del, &deleted).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Issue 14, item 8: a replica that just became leader has heard no heartbeat yet, and its
// in-memory registry lacks the servers registered through the previous leader. A read's
// manifest lookup must still name every replica's address (from the replicated records), or the
// read fails with "no replica is registered" although every replica is there.
TEST_F(MetaServiceTest, NewLeaderNamesEveryReplicaBeforeAnyHeartbeat) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Beat(id, std::string("rack-") + id).ok());
  AllocateAndCommit("1.2.1.1", 2);
  // The new leader: same replicated database, a registry that has not been loaded since the
  // servers registered and has heard from none of them.
  ChunkServerRegistry registry(kv_.get(), &clock_, RegistryOptions(), 8);
  MetaMetrics metrics(prometheus_other_);
  MetaServiceImpl leader(catalog_.get(), &registry, gc_.get(), repairer_.get(), &clock_, &metrics,
                         3600, kMinOrphanGraceSeconds);
  v1::GetInstanceMetaRequest get;
  get.set_sop_instance_uid("1.2.1.1");
  v1::GetInstanceMetaResponse got;
  grpc::Status s = leader.GetInstance(&ctx_, &get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.server_addresses().size(), 3u);
  EXPECT_EQ(got.server_addresses().at("b"), "host-b:7000");
  EXPECT_EQ(registry.CountUpDown().up, 0u);  // none heard from: addresses, not liveness
}

TEST_F(MetaServiceTest, GraceOverrideBelowTheFloorIsRefused) {
  // A grace of 0 would reclaim the chunks of a put still writing; that put would then commit.
  v1::RunGarbageCollectionRequest gc;
  gc.set_orphan_grace_seconds(0);
  v1::RunGarbageCollectionResponse done;
  EXPECT_EQ(service_->RunGarbageCollection(&ctx_, &gc, &done).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  gc.set_orphan_grace_seconds(kMinOrphanGraceSeconds);
  EXPECT_TRUE(service_->RunGarbageCollection(&ctx_, &gc, &done).ok());
}

TEST_F(MetaServiceTest, ConflictingCommitIsAlreadyExistsWithoutPhi) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Beat(id, "").ok());
  AllocateAndCommit("1.2.1.1", 1);
  v1::CommitInstanceRequest req;
  *req.mutable_tags() = Tags("1.2", "1.2.1", "1.2.1.1");
  req.mutable_manifest()->set_object_id(RandomBytes(16).value());
  req.mutable_manifest()->set_sha256(Sha256("other"));
  auto* c = req.mutable_manifest()->add_chunks();
  c->set_chunk_id(RandomBytes(16).value());
  c->add_server_ids("a");
  v1::CommitInstanceResponse resp;
  grpc::Status s = service_->CommitInstance(&ctx_, &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message().find("1.2"), std::string::npos);
  EXPECT_EQ(metrics_->request_errors.Value(), 1);
}

// The real table, caller by caller: chunk servers only heartbeat; everything else is the
// frontend's; no client and no other service calls the metaserver directly.
TEST(MetaServicePolicyTest, ChunkServersHeartbeatAndTheFrontendCallsTheRest) {
  const std::set<std::string> frontend = {"frontend/frontend"};
  const medvault::testing::PolicyTable table = {{"Heartbeat", {"chunkserver/chunkserver"}},
                                                {"ListChunkServers", frontend},
                                                {"AllocateChunks", frontend},
                                                {"CommitInstance", frontend},
                                                {"GetInstance", frontend},
                                                {"FindStudies", frontend},
                                                {"GetStudy", frontend},
                                                {"DeleteStudy", frontend},
                                                {"DeleteInstance", frontend},
                                                {"ConfirmKeysDestroyed", frontend},
                                                {"RunGarbageCollection", frontend},
                                                {"ReportBadReplica", frontend},
                                                {"DrainChunkServer", frontend},
                                                {"StartScrub", frontend},
                                                {"GetScrubStatus", frontend},
                                                {"CheckIndex", frontend},
                                                {"FindSeries", frontend},
                                                {"FindInstances", frontend},
                                                {"CreateShare", frontend},
                                                {"ListShares", frontend},
                                                {"GetShare", frontend},
                                                {"RevokeShare", frontend},
                                                {"UnlockShare", frontend},
                                                {"RecordShareAccess", frontend},
                                                {"GetShareLog", frontend},
                                                {"GetInstanceHeaders", frontend},
                                                {"SetRetention", frontend},
                                                {"SetLegalHold", frontend}};
  EXPECT_THAT(medvault::testing::PolicyTableMismatches(MetaServicePolicy(),
                                                       {"medvault.v1.MetaService"}, table),
              ::testing::IsEmpty());
}

}  // namespace
}  // namespace medvault::metaserver
