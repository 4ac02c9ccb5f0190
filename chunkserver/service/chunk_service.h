// The gRPC face of the chunk server (medvault.v1.ChunkService): authorises the caller (only the
// frontend and the metaserver), validates requests, calls ChunkStore, maps its Status onto gRPC and
// records metrics. Only ids, sizes and checksums are ever logged.
#pragma once

#include "chunkserver/core/chunk_store.h"
#include "chunkserver/core/scrubber.h"
#include "chunkserver/service/chunk_server_metrics.h"
#include "common/access_policy.h"
#include "medvault/v1/chunkserver.grpc.pb.h"

namespace medvault::chunkserver {

// Most ids one DeleteChunks call may carry.
inline constexpr int kMaxDeleteIds = 100000;

// Who may call a chunk server: the frontend (writes and reads chunks) and the metaserver (garbage
// collection, repair, on-demand scrubs). Never another chunk server, never a client.
AccessPolicy ChunkServicePolicy();

class ChunkServiceImpl final : public v1::ChunkService::Service {
 public:
  // `store`, `metrics`, `authz` (null: every call allowed, for unit tests) and `scrubber` (null:
  // StartScrub and GetScrubStatus are FAILED_PRECONDITION) must outlive the service.
  ChunkServiceImpl(ChunkStore* store, ChunkServerMetrics* metrics, Authorizer* authz = nullptr,
                   Scrubber* scrubber = nullptr);

  grpc::Status WriteChunk(grpc::ServerContext* context, const v1::WriteChunkRequest* request,
                          v1::WriteChunkResponse* response) override;
  grpc::Status ReadChunk(grpc::ServerContext* context, const v1::ReadChunkRequest* request,
                         v1::ReadChunkResponse* response) override;
  grpc::Status DeleteChunks(grpc::ServerContext* context, const v1::DeleteChunksRequest* request,
                            v1::DeleteChunksResponse* response) override;
  grpc::Status ListChunks(grpc::ServerContext* context, const v1::ListChunksRequest* request,
                          v1::ListChunksResponse* response) override;
  grpc::Status StartScrub(grpc::ServerContext* context, const v1::StartScrubRequest* request,
                          v1::StartScrubResponse* response) override;
  grpc::Status GetScrubStatus(grpc::ServerContext* context,
                              const v1::GetScrubStatusRequest* request,
                              v1::ScrubStatus* response) override;

 private:
  // Counts an error (and a checksum failure for DATA_LOSS) and converts it.
  grpc::Status Fail(const absl::Status& status);

  ChunkStore* const store_;
  ChunkServerMetrics* const metrics_;
  Authorizer* const authz_;
  Scrubber* const scrubber_;
};

}  // namespace medvault::chunkserver
