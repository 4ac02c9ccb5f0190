#include "metaserver/service/grpc_clients.h"

#include "common/rpc.h"
#include "medvault/v1/keyservice.grpc.pb.h"

namespace medvault::metaserver {

GrpcChunkServerClient::GrpcChunkServerClient(TransportSecurity security, absl::Duration timeout)
    : security_(std::move(security)), timeout_(timeout) {}

v1::ChunkService::Stub* GrpcChunkServerClient::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<v1::ChunkService::Stub>& stub = stubs_[address];
  if (stub == nullptr)
    stub = v1::ChunkService::NewStub(MakeChannel(address, security_, kChunkServerPeer));
  return stub.get();  // stubs are never removed, so the pointer stays valid
}

absl::Status GrpcChunkServerClient::DeleteChunks(const std::string& address,
                                                 const std::vector<std::string>& chunk_ids) {
  v1::DeleteChunksRequest request;
  for (const std::string& id : chunk_ids) request.add_chunk_ids(id);
  v1::DeleteChunksResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return FromGrpcStatus(StubFor(address)->DeleteChunks(&context, request, &response));
}

absl::StatusOr<ChunkListPage> GrpcChunkServerClient::ListChunks(const std::string& address,
                                                                absl::string_view start_after,
                                                                uint32_t limit) {
  v1::ListChunksRequest request;
  request.set_start_after(std::string(start_after));
  request.set_limit(limit);
  v1::ListChunksResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  absl::Status s = FromGrpcStatus(StubFor(address)->ListChunks(&context, request, &response));
  if (!s.ok()) return s;
  ChunkListPage page;
  page.more = response.more();
  page.chunks.reserve(response.chunks_size());
  for (const v1::ChunkEntry& entry : response.chunks()) {
    page.chunks.push_back(ChunkListEntry{entry.chunk_id(), entry.size(), entry.age_seconds()});
  }
  return page;
}

absl::StatusOr<ChunkBytes> GrpcChunkServerClient::ReadChunk(const std::string& address,
                                                            const std::string& chunk_id) {
  v1::ReadChunkRequest request;
  request.set_chunk_id(chunk_id);
  v1::ReadChunkResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  absl::Status s = FromGrpcStatus(StubFor(address)->ReadChunk(&context, request, &response));
  if (!s.ok()) return s;
  return ChunkBytes{std::move(*response.mutable_data()), response.crc32c()};
}

absl::Status GrpcChunkServerClient::WriteChunk(const std::string& address,
                                               const std::string& chunk_id, const std::string& data,
                                               uint32_t crc32c) {
  v1::WriteChunkRequest request;
  request.set_chunk_id(chunk_id);
  request.set_data(data);
  request.set_crc32c(crc32c);
  v1::WriteChunkResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return FromGrpcStatus(StubFor(address)->WriteChunk(&context, request, &response));
}

absl::Status GrpcChunkServerClient::StartScrub(const std::string& address) {
  v1::StartScrubRequest request;
  v1::StartScrubResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return FromGrpcStatus(StubFor(address)->StartScrub(&context, request, &response));
}

absl::StatusOr<v1::ScrubStatus> GrpcChunkServerClient::GetScrubStatus(const std::string& address) {
  v1::GetScrubStatusRequest request;
  v1::ScrubStatus response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  absl::Status s = FromGrpcStatus(StubFor(address)->GetScrubStatus(&context, request, &response));
  if (!s.ok()) return s;
  return response;
}

GrpcKeyShredder::GrpcKeyShredder(const std::vector<std::string>& addresses,
                                 const TransportSecurity& security)
    : group_(addresses, [&security](const std::string& a) {
        return MakeChannel(a, security, kKeyServicePeer);
      }) {}

absl::Status GrpcKeyShredder::DestroyKeys(const std::vector<std::string>& object_ids,
                                          const std::string& on_behalf_of,
                                          const std::string& purpose) {
  v1::DestroyDataKeysRequest request;
  for (const std::string& id : object_ids) request.add_object_ids(id);
  request.mutable_audit()->set_on_behalf_of(on_behalf_of);
  request.mutable_audit()->set_purpose(purpose);
  return group_.Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point deadline) {
        auto stub = v1::KeyService::NewStub(channel);
        grpc::ClientContext context;
        context.set_deadline(deadline);
        v1::DestroyDataKeysResponse response;
        return FromGrpcStatus(stub->DestroyDataKeys(&context, request, &response));
      },
      std::chrono::seconds(30));
}

}  // namespace medvault::metaserver
