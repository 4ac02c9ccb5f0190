#include "metaserver/service/meta_service.h"

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/rpc.h"
#include "common/tls.h"
#include "metaserver/core/scrub_control.h"

namespace medvault::metaserver {
namespace {

// Most servers one AllocateChunks may exclude (a put re-placing after failed replica writes).
constexpr int kMaxExcludedServers = 16;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

AccessPolicy MetaServicePolicy() {
  AccessPolicy policy;
  policy.AllowRoles("Heartbeat", {kChunkServerPeer});
  for (const char* method : {"ListChunkServers",     "AllocateChunks",    "CommitInstance",
                             "GetInstance",          "FindStudies",       "GetStudy",
                             "DeleteStudy",          "DeleteInstance",    "ConfirmKeysDestroyed",
                             "RunGarbageCollection", "ReportBadReplica",  "DrainChunkServer",
                             "StartScrub",           "GetScrubStatus",    "CheckIndex",
                             "FindSeries",           "FindInstances",     "CreateShare",
                             "ListShares",           "GetShare",          "RevokeShare",
                             "UnlockShare",          "RecordShareAccess", "GetShareLog",
                             "GetInstanceHeaders",   "SetRetention",      "SetLegalHold"}) {
    policy.AllowRoles(method, {kFrontendPeer});
  }
  return policy;
}

MetaServiceImpl::MetaServiceImpl(Catalog* catalog, ChunkServerRegistry* registry,
                                 GarbageCollector* gc, Repairer* repairer, Clock* clock,
                                 MetaMetrics* metrics, uint64_t orphan_grace_seconds,
                                 uint64_t min_orphan_grace_seconds, raft::ReplicaGate* gate,
                                 Authorizer* authz)
    : catalog_(catalog),
      registry_(registry),
      gc_(gc),
      repairer_(repairer),
      authz_(authz),
      clock_(clock),
      metrics_(metrics),
      orphan_grace_seconds_(orphan_grace_seconds),
      min_orphan_grace_seconds_(min_orphan_grace_seconds),
      gate_(gate != nullptr ? gate : &sole_) {}

absl::Status MetaServiceImpl::RequireLeaderRegistry() {
  absl::Status leader = gate_->RequireLeader();
  if (!leader.ok()) return leader;
  const uint64_t term = gate_->Term();
  if (registry_term_.load() == term) return absl::OkStatus();
  // New leadership: servers registered through an earlier leader are in the database but not in
  // this replica's in-memory registry yet; they stay down until they heartbeat here.
  absl::Status current = gate_->Barrier();
  if (!current.ok()) return current;
  absl::Status loaded = registry_->Load();
  if (!loaded.ok()) return loaded;
  registry_term_.store(term);
  return absl::OkStatus();
}

grpc::Status MetaServiceImpl::Fail(const absl::Status& status) {
  metrics_->request_errors.Increment();
  return ToGrpcStatus(status);
}

grpc::Status MetaServiceImpl::Heartbeat(grpc::ServerContext* context,
                                        const v1::HeartbeatRequest* request,
                                        v1::HeartbeatResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "Heartbeat"); !denied.ok())
    return Fail(denied);
  absl::Status s = RequireLeaderRegistry();
  if (s.ok()) s = registry_->Heartbeat(request->server());
  if (!s.ok()) return Fail(s);
  // Replicas the server quarantined (scrub or read found them corrupt): the next repair pass
  // verifies and replaces them.
  const v1::ChunkServerInfo& server = request->server();
  for (const std::string& chunk_id : server.quarantined_chunk_ids()) {
    repairer_->ReportSuspect(chunk_id, server.server_id());
    metrics_->corrupt_replicas_reported.Increment();
  }
  metrics_->RefreshServers(*registry_);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::ListChunkServers(grpc::ServerContext* context,
                                               const v1::ListChunkServersRequest*,
                                               v1::ListChunkServersResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "ListChunkServers"); !denied.ok())
    return Fail(denied);
  absl::Status leader = RequireLeaderRegistry();
  if (!leader.ok()) return Fail(leader);
  for (v1::ChunkServerStatus& status : registry_->List())
    *response->add_servers() = std::move(status);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::AllocateChunks(grpc::ServerContext* context,
                                             const v1::AllocateChunksRequest* request,
                                             v1::AllocateChunksResponse* response) {
  metrics_->allocate_chunks_requests.Increment();
  if (absl::Status denied = AuthorizeCall(authz_, *context, "AllocateChunks"); !denied.ok())
    return Fail(denied);
  absl::Status leader = RequireLeaderRegistry();
  if (!leader.ok()) return Fail(leader);
  if (request->exclude_server_ids_size() > kMaxExcludedServers) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxExcludedServers, " servers can be excluded")));
  }
  const std::set<std::string> exclude(request->exclude_server_ids().begin(),
                                      request->exclude_server_ids().end());
  absl::StatusOr<std::vector<v1::ChunkPlacement>> placed =
      registry_->Place(request->chunk_count(), request->replicas(), exclude);
  if (!placed.ok()) return Fail(placed.status());
  for (v1::ChunkPlacement& p : *placed) *response->add_chunks() = std::move(p);
  if (!request->sop_instance_uid().empty()) {
    // Leader-local, without a barrier: a hint the caller confirms (see the proto).
    absl::StatusOr<InstanceRecord> record = catalog_->GetInstance(request->sop_instance_uid());
    if (!record.ok() && !absl::IsNotFound(record.status())) return Fail(record.status());
    response->set_instance_exists(record.ok());
  }
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::CommitInstance(grpc::ServerContext* context,
                                             const v1::CommitInstanceRequest* request,
                                             v1::CommitInstanceResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "CommitInstance"); !denied.ok())
    return Fail(denied);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommitResult> result =
      catalog_->Commit(request->tags(), request->manifest(), clock_->NowMicros(),
                       request->has_header() ? &request->header() : nullptr);
  if (!result.ok()) return Fail(result.status());
  response->set_already_stored(result->already_stored);
  *response->mutable_info() = std::move(result->info);
  if (!result->already_stored) metrics_->commits.Increment();
  metrics_->commit_latency.Observe(SecondsSince(start));
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::GetInstance(grpc::ServerContext* context,
                                          const v1::GetInstanceMetaRequest* request,
                                          v1::GetInstanceMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "GetInstance"); !denied.ok())
    return Fail(denied);
  // On a new term the registry is first loaded from the replicated records: a replica that just
  // took over then knows every server's address (liveness does not matter here: the reader tries
  // each replica), not only those that have heartbeated to it since (issue 14, item 8).
  absl::Status current = RequireLeaderRegistry();
  if (current.ok()) current = gate_->Barrier();
  if (!current.ok()) return Fail(current);
  absl::StatusOr<InstanceRecord> record = catalog_->GetInstance(request->sop_instance_uid());
  if (!record.ok()) return Fail(record.status());
  // Servers no longer registered are left out; the reader skips replicas it cannot address.
  auto& addresses = *response->mutable_server_addresses();
  for (const v1::ChunkLocation& chunk : record->manifest.chunks()) {
    for (const std::string& server_id : chunk.server_ids()) {
      if (addresses.count(server_id) > 0) continue;
      absl::StatusOr<std::string> address = registry_->AddressOf(server_id);
      if (address.ok()) addresses[server_id] = std::move(*address);
    }
  }
  *response->mutable_info() = std::move(record->info);
  *response->mutable_manifest() = std::move(record->manifest);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::FindStudies(grpc::ServerContext* context,
                                          const v1::FindStudiesMetaRequest* request,
                                          v1::FindStudiesMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "FindStudies"); !denied.ok())
    return Fail(denied);
  const auto start = std::chrono::steady_clock::now();
  absl::Status current = gate_->Barrier();
  if (!current.ok()) return Fail(current);
  absl::StatusOr<v1::StudyPage> page = catalog_->FindStudies(request->query());
  if (!page.ok()) return Fail(page.status());
  *response->mutable_page() = std::move(*page);
  metrics_->find_latency.Observe(SecondsSince(start));
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::GetStudy(grpc::ServerContext* context,
                                       const v1::GetStudyMetaRequest* request,
                                       v1::GetStudyMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "GetStudy"); !denied.ok())
    return Fail(denied);
  absl::Status current = gate_->Barrier();
  if (!current.ok()) return Fail(current);
  absl::StatusOr<StudyDetail> detail = catalog_->GetStudy(request->study_uid());
  if (!detail.ok()) return Fail(detail.status());
  *response->mutable_study() = std::move(detail->study);
  for (v1::SeriesInfo& series : detail->series) *response->add_series() = std::move(series);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::FillDelete(const absl::StatusOr<DeleteResult>& result,
                                         v1::DeleteMetaResponse* response) {
  if (!result.ok()) return Fail(result.status());
  response->set_instances_deleted(result->instances_deleted);
  for (const std::string& id : result->object_ids) response->add_object_ids(id);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::DeleteStudy(grpc::ServerContext* context,
                                          const v1::DeleteStudyMetaRequest* request,
                                          v1::DeleteMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "DeleteStudy"); !denied.ok())
    return Fail(denied);
  return FillDelete(catalog_->DeleteStudy(request->study_uid(), clock_->NowMicros()), response);
}

grpc::Status MetaServiceImpl::DeleteInstance(grpc::ServerContext* context,
                                             const v1::DeleteInstanceMetaRequest* request,
                                             v1::DeleteMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "DeleteInstance"); !denied.ok())
    return Fail(denied);
  return FillDelete(catalog_->DeleteInstance(request->sop_instance_uid(), clock_->NowMicros()),
                    response);
}

grpc::Status MetaServiceImpl::ConfirmKeysDestroyed(grpc::ServerContext* context,
                                                   const v1::ConfirmKeysDestroyedRequest* request,
                                                   v1::ConfirmKeysDestroyedResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "ConfirmKeysDestroyed"); !denied.ok())
    return Fail(denied);
  const std::vector<std::string> ids(request->object_ids().begin(), request->object_ids().end());
  absl::Status s = catalog_->ConfirmKeysDestroyed(ids);
  if (!s.ok()) return Fail(s);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::RunGarbageCollection(grpc::ServerContext* context,
                                                   const v1::RunGarbageCollectionRequest* request,
                                                   v1::RunGarbageCollectionResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "RunGarbageCollection"); !denied.ok())
    return Fail(denied);
  absl::Status leader = RequireLeaderRegistry();
  if (!leader.ok()) return Fail(leader);
  const uint64_t grace =
      request->has_orphan_grace_seconds() ? request->orphan_grace_seconds() : orphan_grace_seconds_;
  if (grace < min_orphan_grace_seconds_) {
    // A shorter grace could reclaim the chunks of a put still writing, which would then commit.
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("orphan grace must be at least ", min_orphan_grace_seconds_, " s")));
  }
  absl::StatusOr<GcStats> stats = gc_->RunOnce(grace);
  if (!stats.ok()) return Fail(stats.status());
  metrics_->RecordGc(*stats);
  response->set_deleted_chunks_reclaimed(stats->deleted_chunks_reclaimed);
  response->set_orphans_reclaimed(stats->orphans_reclaimed);
  response->set_tombstones_pending(stats->tombstones_pending);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::ReportBadReplica(grpc::ServerContext* context,
                                               const v1::ReportBadReplicaRequest* request,
                                               v1::ReportBadReplicaResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "ReportBadReplica"); !denied.ok())
    return Fail(denied);
  if (request->chunk_id().size() != 16)
    return Fail(absl::InvalidArgumentError("chunk_id must be 16 bytes"));
  if (request->server_id().empty())
    return Fail(absl::InvalidArgumentError("server_id is required"));
  absl::Status leader = gate_->RequireLeader();
  if (!leader.ok()) return Fail(leader);
  repairer_->ReportSuspect(request->chunk_id(), request->server_id());
  metrics_->corrupt_replicas_reported.Increment();
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::DrainChunkServer(grpc::ServerContext* context,
                                               const v1::DrainChunkServerRequest* request,
                                               v1::DrainChunkServerResponse*) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "DrainChunkServer"); !denied.ok())
    return Fail(denied);
  absl::Status s = RequireLeaderRegistry();
  if (s.ok()) s = registry_->SetDraining(request->server_id(), !request->undo());
  if (!s.ok()) return Fail(s);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::StartScrub(grpc::ServerContext* context,
                                         const v1::StartScrubMetaRequest* request,
                                         v1::StartScrubMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "StartScrub"); !denied.ok())
    return Fail(denied);
  if (chunk_client_ == nullptr)
    return Fail(absl::FailedPreconditionError("on-demand scrubs are not configured"));
  absl::Status s = RequireLeaderRegistry();
  if (!s.ok()) return Fail(s);
  absl::StatusOr<std::vector<std::string>> started =
      StartScrubs(*registry_, chunk_client_, request->server_id());
  if (!started.ok()) return Fail(started.status());
  metrics_->scrubs_started.Increment(static_cast<double>(started->size()));
  for (const std::string& id : *started) response->add_server_ids(id);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::GetScrubStatus(grpc::ServerContext* context,
                                             const v1::GetScrubStatusMetaRequest* request,
                                             v1::GetScrubStatusMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "GetScrubStatus"); !denied.ok())
    return Fail(denied);
  if (chunk_client_ == nullptr)
    return Fail(absl::FailedPreconditionError("on-demand scrubs are not configured"));
  absl::Status s = RequireLeaderRegistry();
  if (!s.ok()) return Fail(s);
  absl::StatusOr<v1::GetScrubStatusMetaResponse> status =
      GatherScrubStatus(*registry_, chunk_client_, request->server_id());
  if (!status.ok()) return Fail(status.status());
  *response = std::move(*status);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::CheckIndex(grpc::ServerContext* context,
                                         const v1::CheckIndexRequest* request,
                                         v1::CheckIndexResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "CheckIndex"); !denied.ok())
    return Fail(denied);
  absl::Status current = gate_->Barrier();
  if (!current.ok()) return Fail(current);
  absl::StatusOr<IndexCheckPage> page =
      catalog_->CheckIndex(request->page_token(), request->scan_limit());
  if (!page.ok()) return Fail(page.status());
  for (IndexProblem& p : page->problems) {
    v1::IndexProblem* out = response->add_problems();
    out->set_sop_instance_uid(std::move(p.sop_instance_uid));
    out->set_study_uid(std::move(p.study_uid));
    out->set_attribute(std::move(p.attribute));
    out->set_rule(std::move(p.rule));
  }
  response->set_scanned(page->scanned);
  response->set_next_page_token(std::move(page->next_page_token));
  return grpc::Status::OK;
}

// FindSeries and FindInstances, like FindStudies: current (barrier) and timed as finds.
grpc::Status MetaServiceImpl::FindSeries(grpc::ServerContext* context,
                                         const v1::FindSeriesMetaRequest* request,
                                         v1::FindSeriesMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "FindSeries"); !denied.ok())
    return Fail(denied);
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status current = gate_->Barrier(); !current.ok()) return Fail(current);
  absl::StatusOr<v1::SeriesPage> page = catalog_->FindSeries(request->query());
  if (!page.ok()) return Fail(page.status());
  *response->mutable_page() = std::move(*page);
  metrics_->find_latency.Observe(SecondsSince(start));
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::FindInstances(grpc::ServerContext* context,
                                            const v1::FindInstancesMetaRequest* request,
                                            v1::FindInstancesMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "FindInstances"); !denied.ok())
    return Fail(denied);
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status current = gate_->Barrier(); !current.ok()) return Fail(current);
  absl::StatusOr<v1::InstancePage> page = catalog_->FindInstances(request->query());
  if (!page.ok()) return Fail(page.status());
  *response->mutable_page() = std::move(*page);
  metrics_->find_latency.Observe(SecondsSince(start));
  return grpc::Status::OK;
}

// Like GetStudy: current (barrier), then one snapshot read.
grpc::Status MetaServiceImpl::GetInstanceHeaders(grpc::ServerContext* context,
                                                 const v1::GetInstanceHeadersRequest* request,
                                                 v1::GetInstanceHeadersResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "GetInstanceHeaders"); !denied.ok())
    return Fail(denied);
  if (absl::Status current = gate_->Barrier(); !current.ok()) return Fail(current);
  absl::StatusOr<v1::GetInstanceHeadersResponse> page = catalog_->GetInstanceHeaders(*request);
  if (!page.ok()) return Fail(page.status());
  *response = std::move(*page);
  return grpc::Status::OK;
}

}  // namespace medvault::metaserver
