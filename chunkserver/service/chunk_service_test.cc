#include "chunkserver/service/chunk_service.h"

#include <memory>
#include <mutex>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "chunkserver/service/heartbeat_client.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/rpc.h"
#include "common/testing/policy_table.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

using ::medvault::testing::TempDir;

std::string Id(char c) { return std::string(kChunkIdBytes, c); }

// A real gRPC server on an ephemeral loopback port.
class InProcessServer {
 public:
  explicit InProcessServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~InProcessServer() { server_->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

class ChunkServiceTest : public ::testing::Test {
 protected:
  ChunkServiceTest() : store_(DefaultFilesystem(), &clock_, dir_.path()), metrics_(registry_) {}

  void SetUp() override {
    ASSERT_TRUE(store_.Open().ok());
    service_ = std::make_unique<ChunkServiceImpl>(&store_, &metrics_);
    server_ = std::make_unique<InProcessServer>(service_.get());
    stub_ = v1::ChunkService::NewStub(
        MakeChannel(server_->address(), TransportSecurity::InsecurePlaintext(), kChunkServerPeer));
  }

  grpc::Status Write(const std::string& id, const std::string& data, uint32_t crc) {
    grpc::ClientContext ctx;
    v1::WriteChunkRequest req;
    req.set_chunk_id(id);
    req.set_data(data);
    req.set_crc32c(crc);
    v1::WriteChunkResponse resp;
    return stub_->WriteChunk(&ctx, req, &resp);
  }

  grpc::Status Read(const std::string& id, v1::ReadChunkResponse* resp) {
    grpc::ClientContext ctx;
    v1::ReadChunkRequest req;
    req.set_chunk_id(id);
    return stub_->ReadChunk(&ctx, req, resp);
  }

  TempDir dir_;
  FakeClock clock_;
  FileChunkStore store_;
  prometheus::Registry registry_;
  ChunkServerMetrics metrics_;
  std::unique_ptr<ChunkServiceImpl> service_;
  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<v1::ChunkService::Stub> stub_;
};

TEST_F(ChunkServiceTest, WriteReadDeleteListOverGrpc) {
  const std::string data = *RandomBytes(1 << 20);
  ASSERT_TRUE(Write(Id('a'), data, Crc32c(data)).ok());
  ASSERT_TRUE(Write(Id('b'), data, Crc32c(data)).ok());
  EXPECT_EQ(metrics_.writes.Value(), 2);
  EXPECT_EQ(metrics_.write_bytes.Value(), 2.0 * data.size());
  EXPECT_EQ(metrics_.chunks_stored.Value(), 2);

  v1::ReadChunkResponse read;
  ASSERT_TRUE(Read(Id('a'), &read).ok());
  EXPECT_EQ(read.data(), data);
  EXPECT_EQ(read.crc32c(), Crc32c(data));
  EXPECT_EQ(metrics_.reads.Value(), 1);
  EXPECT_EQ(metrics_.read_bytes.Value(), static_cast<double>(data.size()));

  {
    grpc::ClientContext ctx;
    v1::ListChunksRequest req;
    req.set_limit(1);
    v1::ListChunksResponse resp;
    ASSERT_TRUE(stub_->ListChunks(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.chunks_size(), 1);
    EXPECT_EQ(resp.chunks(0).chunk_id(), Id('a'));
    EXPECT_EQ(resp.chunks(0).size(), kChunkHeaderBytes + data.size());
    EXPECT_TRUE(resp.more());
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteChunksRequest req;
    req.add_chunk_ids(Id('a'));
    req.add_chunk_ids(Id('z'));
    v1::DeleteChunksResponse resp;
    ASSERT_TRUE(stub_->DeleteChunks(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.deleted(), 1u);
    EXPECT_EQ(metrics_.chunks_stored.Value(), 1);
  }
  EXPECT_EQ(Read(Id('a'), &read).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ChunkServiceTest, MapsErrorsToGrpcCodes) {
  EXPECT_EQ(Write("short", "x", Crc32c("x")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReadChunkResponse read;
  EXPECT_EQ(Read("", &read).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Write(Id('c'), "data", Crc32c("data") + 1).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(metrics_.checksum_failures.Value(), 1);
  ASSERT_TRUE(Write(Id('c'), "data", Crc32c("data")).ok());
  EXPECT_TRUE(Write(Id('c'), "data", Crc32c("data")).ok());
  EXPECT_EQ(Write(Id('c'), "other", Crc32c("other")).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  grpc::ClientContext ctx;
  v1::DeleteChunksRequest req;
  req.add_chunk_ids("bad");
  v1::DeleteChunksResponse resp;
  EXPECT_EQ(stub_->DeleteChunks(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ChunkServiceTest, CorruptChunkOnDiskIsDataLossAndCounted) {
  ASSERT_TRUE(Write(Id('d'), "payload", Crc32c("payload")).ok());
  const std::string hex = ToHex(Id('d'));
  const std::string path = dir_.path() + "/chunks/" + hex.substr(0, 2) + "/" + hex;
  std::string file = *DefaultFilesystem()->ReadFile(path);
  file.back() ^= 1;
  auto out = DefaultFilesystem()->NewWritableFile(path);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Append(file).ok());
  ASSERT_TRUE((*out)->Close().ok());
  v1::ReadChunkResponse read;
  EXPECT_EQ(Read(Id('d'), &read).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(metrics_.checksum_failures.Value(), 1);
}

// Records heartbeats like the metaserver would.
class FakeMetaService final : public v1::MetaService::Service {
 public:
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = request->server();
    ++count_;
    return grpc::Status::OK;
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  v1::ChunkServerInfo last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  int count_ = 0;
  v1::ChunkServerInfo last_;
};

TEST(HeartbeatClientTest, SendsInfoAndUpdatesGauges) {
  FakeMetaService meta;
  InProcessServer server(&meta);
  prometheus::Registry registry;
  ChunkServerMetrics metrics(registry);
  HeartbeatClient client({server.address()}, TransportSecurity::InsecurePlaintext(),
                         absl::Seconds(1), &metrics, absl::Seconds(10));
  v1::ChunkServerInfo info;
  info.set_server_id("abcd");
  info.set_address("127.0.0.1:1234");
  info.set_free_bytes(4242);
  info.set_chunk_count(7);
  ASSERT_TRUE(client.Send(info).ok());
  EXPECT_EQ(meta.count(), 1);
  EXPECT_EQ(meta.last().server_id(), "abcd");
  EXPECT_EQ(meta.last().free_bytes(), 4242u);
  EXPECT_EQ(metrics.disk_free_bytes.Value(), 4242);
  EXPECT_EQ(metrics.chunks_stored.Value(), 7);
}

TEST(HeartbeatClientTest, UnreachableMetaserverIsAnError) {
  prometheus::Registry registry;
  ChunkServerMetrics metrics(registry);
  // Port 1 on loopback: nothing listens there.
  HeartbeatClient client({"127.0.0.1:1"}, TransportSecurity::InsecurePlaintext(), absl::Seconds(1),
                         &metrics, absl::Seconds(1));
  absl::Status s = client.Send(v1::ChunkServerInfo());
  EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) << s;
}

// The real table, caller by caller: the frontend (puts, reads) and the metaserver (repair,
// garbage collection) move chunks; no client, key service or other chunk server may.
TEST(ChunkServicePolicyTest, OnlyTheFrontendAndTheMetaserverMoveChunks) {
  const std::set<std::string> both = {"frontend/frontend", "metaserver/metaserver"};
  const medvault::testing::PolicyTable table = {{"WriteChunk", both},
                                                {"ReadChunk", both},
                                                {"DeleteChunks", both},
                                                {"ListChunks", both},
                                                {"StartScrub", {"metaserver/metaserver"}},
                                                {"GetScrubStatus", {"metaserver/metaserver"}}};
  EXPECT_THAT(medvault::testing::PolicyTableMismatches(ChunkServicePolicy(),
                                                       {"medvault.v1.ChunkService"}, table),
              ::testing::IsEmpty());
}

}  // namespace
}  // namespace medvault::chunkserver
