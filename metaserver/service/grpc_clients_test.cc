// GrpcChunkServerClient against an in-process ChunkService on a loopback port.
#include "metaserver/service/grpc_clients.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace medvault::metaserver {
namespace {

class FakeChunkService final : public v1::ChunkService::Service {
 public:
  grpc::Status DeleteChunks(grpc::ServerContext*, const v1::DeleteChunksRequest* request,
                            v1::DeleteChunksResponse* response) override {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : request->chunk_ids())
      response->set_deleted(response->deleted() + chunks_.erase(id));
    return grpc::Status::OK;
  }
  grpc::Status ListChunks(grpc::ServerContext*, const v1::ListChunksRequest* request,
                          v1::ListChunksResponse* response) override {
    absl::MutexLock lock(&mu_);
    for (auto it = chunks_.upper_bound(request->start_after()); it != chunks_.end(); ++it) {
      if (static_cast<uint32_t>(response->chunks_size()) == request->limit()) {
        response->set_more(true);
        break;
      }
      v1::ChunkEntry* e = response->add_chunks();
      e->set_chunk_id(it->first);
      e->set_size(10);
      e->set_age_seconds(it->second);
    }
    return grpc::Status::OK;
  }
  void Add(const std::string& id, uint64_t age) {
    absl::MutexLock lock(&mu_);
    chunks_[id] = age;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return chunks_.size();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, uint64_t> chunks_;
};

TEST(GrpcChunkServerClientTest, ListsPagesAndDeletes) {
  FakeChunkService service;
  for (int i = 0; i < 5; ++i) service.Add(absl::StrCat("chunk-", i), 100 + i);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);

  GrpcChunkServerClient client(TransportSecurity::InsecurePlaintext(), absl::Seconds(10));
  absl::StatusOr<ChunkListPage> page = client.ListChunks(address, "", 3);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->chunks.size(), 3u);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->chunks[2].chunk_id, "chunk-2");
  EXPECT_EQ(page->chunks[2].age_seconds, 102u);
  page = client.ListChunks(address, "chunk-2", 3);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->chunks.size(), 2u);
  EXPECT_FALSE(page->more);

  ASSERT_TRUE(client.DeleteChunks(address, {"chunk-0", "chunk-4", "absent"}).ok());
  EXPECT_EQ(service.size(), 3u);
  server->Shutdown();
}

TEST(GrpcChunkServerClientTest, UnreachableServerFailsWithinTheDeadline) {
  GrpcChunkServerClient client(TransportSecurity::InsecurePlaintext(), absl::Milliseconds(300));
  // Port 1 on loopback: nothing listens there.
  absl::Status s = client.DeleteChunks("127.0.0.1:1", {"x"});
  EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) << s;
  EXPECT_FALSE(client.ListChunks("127.0.0.1:1", "", 10).ok());
}

}  // namespace
}  // namespace medvault::metaserver
