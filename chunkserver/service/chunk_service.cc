#include "chunkserver/service/chunk_service.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/tls.h"

namespace medvault::chunkserver {

AccessPolicy ChunkServicePolicy() {
  AccessPolicy policy;
  for (const char* method : {"WriteChunk", "ReadChunk", "DeleteChunks", "ListChunks"}) {
    policy.AllowRoles(method, {kFrontendPeer, kMetaServerPeer});
  }
  // Scrubs are scheduled by an operator through the frontend's Admin service and the metaserver.
  for (const char* method : {"StartScrub", "GetScrubStatus"}) {
    policy.AllowRoles(method, {kMetaServerPeer});
  }
  return policy;
}

ChunkServiceImpl::ChunkServiceImpl(ChunkStore* store, ChunkServerMetrics* metrics,
                                   Authorizer* authz, Scrubber* scrubber)
    : store_(store), metrics_(metrics), authz_(authz), scrubber_(scrubber) {
  metrics_->chunks_stored.Set(static_cast<double>(store_->chunk_count()));
}

grpc::Status ChunkServiceImpl::Fail(const absl::Status& status) {
  metrics_->request_errors.Increment();
  if (absl::IsDataLoss(status)) {
    metrics_->checksum_failures.Increment();
    MV_LOG(WARNING) << status;
  }
  return ToGrpcStatus(status);
}

grpc::Status ChunkServiceImpl::WriteChunk(grpc::ServerContext* context,
                                          const v1::WriteChunkRequest* request,
                                          v1::WriteChunkResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "WriteChunk"); !denied.ok())
    return Fail(denied);
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = CheckChunkId(request->chunk_id());
  if (s.ok()) s = store_->Write(request->chunk_id(), request->data(), request->crc32c());
  metrics_->write_latency.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!s.ok()) return Fail(s);
  metrics_->writes.Increment();
  metrics_->write_bytes.Increment(static_cast<double>(request->data().size()));
  metrics_->chunks_stored.Set(static_cast<double>(store_->chunk_count()));
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::ReadChunk(grpc::ServerContext* context,
                                         const v1::ReadChunkRequest* request,
                                         v1::ReadChunkResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "ReadChunk"); !denied.ok())
    return Fail(denied);
  absl::Status s = CheckChunkId(request->chunk_id());
  if (!s.ok()) return Fail(s);
  absl::StatusOr<ChunkData> chunk = store_->Read(request->chunk_id());
  if (!chunk.ok()) return Fail(chunk.status());
  metrics_->reads.Increment();
  metrics_->read_bytes.Increment(static_cast<double>(chunk->data.size()));
  response->set_crc32c(chunk->crc32c);
  response->set_data(std::move(chunk->data));
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::DeleteChunks(grpc::ServerContext* context,
                                            const v1::DeleteChunksRequest* request,
                                            v1::DeleteChunksResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "DeleteChunks"); !denied.ok())
    return Fail(denied);
  if (request->chunk_ids_size() > kMaxDeleteIds) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "at most ", kMaxDeleteIds, " chunk ids per call, got ", request->chunk_ids_size())));
  }
  for (const std::string& id : request->chunk_ids()) {
    absl::Status s = CheckChunkId(id);
    if (!s.ok()) return Fail(s);
  }
  std::vector<std::string> ids(request->chunk_ids().begin(), request->chunk_ids().end());
  absl::StatusOr<uint32_t> deleted = store_->Delete(ids);
  metrics_->chunks_stored.Set(static_cast<double>(store_->chunk_count()));
  if (!deleted.ok()) return Fail(deleted.status());
  response->set_deleted(*deleted);
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::ListChunks(grpc::ServerContext* context,
                                          const v1::ListChunksRequest* request,
                                          v1::ListChunksResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "ListChunks"); !denied.ok())
    return Fail(denied);
  absl::StatusOr<ChunkList> list = store_->List(request->start_after(), request->limit());
  if (!list.ok()) return Fail(list.status());
  for (ChunkListEntry& e : list->entries) {
    v1::ChunkEntry* out = response->add_chunks();
    out->set_chunk_id(std::move(e.id));
    out->set_size(e.size);
    out->set_age_seconds(e.age_seconds);
  }
  response->set_more(list->more);
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::StartScrub(grpc::ServerContext* context,
                                          const v1::StartScrubRequest*, v1::StartScrubResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "StartScrub"); !denied.ok())
    return Fail(denied);
  if (scrubber_ == nullptr)
    return Fail(absl::FailedPreconditionError("scrubbing is disabled on this chunk server"));
  absl::Status s = scrubber_->RequestPass();
  if (!s.ok()) return Fail(s);
  metrics_->scrub_requests.Increment();
  MV_LOG(INFO) << "scrub pass requested";
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::GetScrubStatus(grpc::ServerContext* context,
                                              const v1::GetScrubStatusRequest*,
                                              v1::ScrubStatus* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "GetScrubStatus"); !denied.ok())
    return Fail(denied);
  if (scrubber_ == nullptr)
    return Fail(absl::FailedPreconditionError("scrubbing is disabled on this chunk server"));
  const ScrubStatus st = scrubber_->status();
  response->set_running(st.running);
  response->set_chunks_checked(st.chunks_checked);
  response->set_chunks_total(st.chunks_total);
  response->set_bad_found(st.bad_found);
  response->set_started_micros(st.started_micros);
  response->set_finished_micros(st.finished_micros);
  response->set_passes_completed(st.passes_completed);
  return grpc::Status::OK;
}

}  // namespace medvault::chunkserver
