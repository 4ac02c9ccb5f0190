// The gRPC face of the metaserver (medvault.v1.MetaService): each handler validates, calls the
// catalog, registry or garbage collector, maps Status with ToGrpcStatus and records metrics.
#pragma once

#include <atomic>

#include <cstdint>

#include "common/access_policy.h"
#include "common/env.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/clients.h"
#include "metaserver/core/garbage_collector.h"
#include "metaserver/core/registry.h"
#include "metaserver/core/repairer.h"
#include "metaserver/core/share_book.h"
#include "metaserver/service/meta_metrics.h"
#include "raft/replicated_writer.h"

namespace medvault::metaserver {

// Who may call the metaserver: chunk servers only heartbeat; everything else is the frontend's
// (tests and tools that inspect the catalog use a frontend certificate).
AccessPolicy MetaServicePolicy();

class MetaServiceImpl final : public v1::MetaService::Service {
 public:
  // Everything must outlive the service; `repairer` receives bad-replica reports.
  // `orphan_grace_seconds` is the GC grace used when a RunGarbageCollection request does not
  // override it; an override below `min_orphan_grace_seconds` (kMinOrphanGraceSeconds except in
  // tests, see --testing_min_orphan_grace_s) is refused. `gate` says whether this replica leads its
  // Raft group and brings its state up to date (null: a sole replica). Only the leader serves:
  // followers answer UNAVAILABLE naming the leader, and clients follow.
  MetaServiceImpl(Catalog* catalog, ChunkServerRegistry* registry, GarbageCollector* gc,
                  Repairer* repairer, Clock* clock, MetaMetrics* metrics,
                  uint64_t orphan_grace_seconds, uint64_t min_orphan_grace_seconds,
                  raft::ReplicaGate* gate = nullptr, Authorizer* authz = nullptr);

  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ListChunkServers(grpc::ServerContext* context,
                                const v1::ListChunkServersRequest* request,
                                v1::ListChunkServersResponse* response) override;
  grpc::Status AllocateChunks(grpc::ServerContext* context,
                              const v1::AllocateChunksRequest* request,
                              v1::AllocateChunksResponse* response) override;
  grpc::Status CommitInstance(grpc::ServerContext* context,
                              const v1::CommitInstanceRequest* request,
                              v1::CommitInstanceResponse* response) override;
  grpc::Status GetInstance(grpc::ServerContext* context, const v1::GetInstanceMetaRequest* request,
                           v1::GetInstanceMetaResponse* response) override;
  grpc::Status FindStudies(grpc::ServerContext* context, const v1::FindStudiesMetaRequest* request,
                           v1::FindStudiesMetaResponse* response) override;
  grpc::Status GetStudy(grpc::ServerContext* context, const v1::GetStudyMetaRequest* request,
                        v1::GetStudyMetaResponse* response) override;
  grpc::Status DeleteStudy(grpc::ServerContext* context, const v1::DeleteStudyMetaRequest* request,
                           v1::DeleteMetaResponse* response) override;
  grpc::Status DeleteInstance(grpc::ServerContext* context,
                              const v1::DeleteInstanceMetaRequest* request,
                              v1::DeleteMetaResponse* response) override;
  grpc::Status ConfirmKeysDestroyed(grpc::ServerContext* context,
                                    const v1::ConfirmKeysDestroyedRequest* request,
                                    v1::ConfirmKeysDestroyedResponse* response) override;
  grpc::Status RunGarbageCollection(grpc::ServerContext* context,
                                    const v1::RunGarbageCollectionRequest* request,
                                    v1::RunGarbageCollectionResponse* response) override;
  grpc::Status ReportBadReplica(grpc::ServerContext* context,
                                const v1::ReportBadReplicaRequest* request,
                                v1::ReportBadReplicaResponse* response) override;
  grpc::Status DrainChunkServer(grpc::ServerContext* context,
                                const v1::DrainChunkServerRequest* request,
                                v1::DrainChunkServerResponse* response) override;
  grpc::Status CheckIndex(grpc::ServerContext* context, const v1::CheckIndexRequest* request,
                          v1::CheckIndexResponse* response) override;
  grpc::Status FindSeries(grpc::ServerContext* context, const v1::FindSeriesMetaRequest* request,
                          v1::FindSeriesMetaResponse* response) override;
  grpc::Status FindInstances(grpc::ServerContext* context,
                             const v1::FindInstancesMetaRequest* request,
                             v1::FindInstancesMetaResponse* response) override;

  grpc::Status StartScrub(grpc::ServerContext* context, const v1::StartScrubMetaRequest* request,
                          v1::StartScrubMetaResponse* response) override;
  grpc::Status GetScrubStatus(grpc::ServerContext* context,
                              const v1::GetScrubStatusMetaRequest* request,
                              v1::GetScrubStatusMetaResponse* response) override;

  // Shares (meta_service_shares.cc); FAILED_PRECONDITION until set_share_book.
  grpc::Status CreateShare(grpc::ServerContext* context, const v1::CreateShareMetaRequest* request,
                           v1::ShareMetaResponse* response) override;
  grpc::Status ListShares(grpc::ServerContext* context, const v1::ListSharesMetaRequest* request,
                          v1::ListSharesMetaResponse* response) override;
  grpc::Status GetShare(grpc::ServerContext* context, const v1::ShareRef* request,
                        v1::ShareMetaResponse* response) override;
  grpc::Status RevokeShare(grpc::ServerContext* context, const v1::ShareActionMetaRequest* request,
                           v1::ShareMetaResponse* response) override;
  grpc::Status UnlockShare(grpc::ServerContext* context, const v1::ShareActionMetaRequest* request,
                           v1::ShareMetaResponse* response) override;
  grpc::Status RecordShareAccess(grpc::ServerContext* context,
                                 const v1::RecordShareAccessRequest* request,
                                 v1::RecordShareAccessResponse* response) override;
  grpc::Status GetShareLog(grpc::ServerContext* context, const v1::ShareRef* request,
                           v1::GetShareLogMetaResponse* response) override;
  grpc::Status GetInstanceHeaders(grpc::ServerContext* context,
                                  const v1::GetInstanceHeadersRequest* request,
                                  v1::GetInstanceHeadersResponse* response) override;
  // Retention rules and legal holds (meta_service_retention.cc).
  grpc::Status SetRetention(grpc::ServerContext* context,
                            const v1::SetRetentionMetaRequest* request,
                            v1::RetentionMetaResponse* response) override;
  grpc::Status SetLegalHold(grpc::ServerContext* context,
                            const v1::SetLegalHoldMetaRequest* request,
                            v1::RetentionMetaResponse* response) override;
  // The shares' store. Call before the service is started; must outlive it.
  void set_share_book(ShareBook* shares) { shares_ = shares; }

  // The chunk-server client on-demand scrubs use (null until set: they are FAILED_PRECONDITION).
  // Call before the service is started; must outlive it.
  void set_chunk_client(ChunkServerClient* client) { chunk_client_ = client; }

 private:
  // Counts an error and converts it.
  grpc::Status Fail(const absl::Status& status);
  grpc::Status FillDelete(const absl::StatusOr<DeleteResult>& result,
                          v1::DeleteMetaResponse* response);
  // Leader only, with a registry that knows every server registered through earlier leaders.
  absl::Status RequireLeaderRegistry();

  Catalog* const catalog_;
  ChunkServerRegistry* const registry_;
  GarbageCollector* const gc_;
  Repairer* const repairer_;
  Authorizer* const authz_;
  Clock* const clock_;
  MetaMetrics* const metrics_;
  const uint64_t orphan_grace_seconds_;
  const uint64_t min_orphan_grace_seconds_;
  raft::SoleReplica sole_;
  raft::ReplicaGate* const gate_;
  std::atomic<uint64_t> registry_term_{0};
  ChunkServerClient* chunk_client_ = nullptr;
  ShareBook* shares_ = nullptr;
  // The leader's share book, current; FAILED_PRECONDITION without one.
  absl::StatusOr<ShareBook*> LeaderShares();  // term in which the registry was last reloaded
};

}  // namespace medvault::metaserver
