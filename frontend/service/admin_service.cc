#include "frontend/service/admin_service.h"

#include <utility>

#include "common/log.h"
#include "common/rpc.h"

namespace medvault::frontend {
namespace {

// The key service's answer, or its error, as this call's result.
template <typename Resp>
grpc::Status Reply(absl::StatusOr<Resp> result, Resp* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

#define MV_ADMIT(method)                                              \
  absl::StatusOr<PeerIdentity> who = authz_->Authorize(*ctx, method); \
  if (!who.ok()) return ToGrpcStatus(who.status())

grpc::Status AdminService::QueryAudit(grpc::ServerContext* ctx,
                                      const v1::QueryAuditRequest* request,
                                      v1::QueryAuditResponse* response) {
  MV_ADMIT("QueryAudit");
  return Reply(keys_->QueryAudit(*request), response);
}

grpc::Status AdminService::GetKekStatus(grpc::ServerContext* ctx, const v1::GetKekStatusRequest*,
                                        v1::GetKekStatusResponse* response) {
  MV_ADMIT("GetKekStatus");
  return Reply(keys_->GetKekStatus(), response);
}

grpc::Status AdminService::RotateKek(grpc::ServerContext* ctx, const v1::RotateKekRequest* request,
                                     v1::RotateKekResponse* response) {
  MV_ADMIT("RotateKek");
  v1::RotateKekRequest forwarded = *request;
  forwarded.mutable_audit()->set_on_behalf_of(who->ToString());
  forwarded.mutable_audit()->set_purpose("RotateKek");
  return Reply(keys_->RotateKek(forwarded), response);
}

grpc::Status AdminService::RetireKek(grpc::ServerContext* ctx, const v1::RetireKekRequest* request,
                                     v1::RetireKekResponse*) {
  MV_ADMIT("RetireKek");
  v1::RetireKekRequest forwarded = *request;
  forwarded.mutable_audit()->set_on_behalf_of(who->ToString());
  forwarded.mutable_audit()->set_purpose("RetireKek");
  return ToGrpcStatus(keys_->RetireKek(forwarded));
}

grpc::Status AdminService::ListChunkServers(grpc::ServerContext* ctx,
                                            const v1::ListChunkServersRequest*,
                                            v1::ListChunkServersResponse* response) {
  MV_ADMIT("ListChunkServers");
  return Reply(meta_->ListChunkServers(), response);
}

grpc::Status AdminService::DrainChunkServer(grpc::ServerContext* ctx,
                                            const v1::DrainChunkServerRequest* request,
                                            v1::DrainChunkServerResponse*) {
  MV_ADMIT("DrainChunkServer");
  if (request->server_id().empty())
    return ToGrpcStatus(absl::InvalidArgumentError("server_id is required"));
  MV_LOG(INFO) << (request->undo() ? "undrain" : "drain") << " of chunk server "
               << request->server_id() << " requested by " << who->ToString();
  return ToGrpcStatus(meta_->DrainChunkServer(*request));
}

grpc::Status AdminService::StartScrub(grpc::ServerContext* ctx,
                                      const v1::StartScrubMetaRequest* request,
                                      v1::StartScrubMetaResponse* response) {
  MV_ADMIT("StartScrub");
  MV_LOG(INFO) << "scrub of "
               << (request->server_id().empty() ? "every chunk server" : request->server_id())
               << " requested by " << who->ToString();
  return Reply(meta_->StartScrub(*request), response);
}

grpc::Status AdminService::GetScrubStatus(grpc::ServerContext* ctx,
                                          const v1::GetScrubStatusMetaRequest* request,
                                          v1::GetScrubStatusMetaResponse* response) {
  MV_ADMIT("GetScrubStatus");
  return Reply(meta_->GetScrubStatus(*request), response);
}

grpc::Status AdminService::CheckIndex(grpc::ServerContext* ctx,
                                      const v1::CheckIndexRequest* request,
                                      v1::CheckIndexResponse* response) {
  MV_ADMIT("CheckIndex");
  return Reply(meta_->CheckIndex(*request), response);
}

absl::StatusOr<RaftAdminClient*> AdminService::RaftGroup(v1::RaftGroup group) {
  switch (group) {
    case v1::RAFT_GROUP_METASERVER:
      return &meta_raft_;
    case v1::RAFT_GROUP_KEYSERVICE:
      return &key_raft_;
    default:
      return absl::InvalidArgumentError("group must be the metaserver or the key service");
  }
}

#define MV_RAFT_GROUP(request)                                          \
  absl::StatusOr<RaftAdminClient*> raft = RaftGroup((request).group()); \
  if (!raft.ok()) return ToGrpcStatus(raft.status())

grpc::Status AdminService::GetRaftStatus(grpc::ServerContext* ctx,
                                         const v1::GetRaftStatusRequest* request,
                                         v1::GetRaftStatusResponse* response) {
  MV_ADMIT("GetRaftStatus");
  MV_RAFT_GROUP(*request);
  return Reply((*raft)->GetStatus(), response);
}

grpc::Status AdminService::AddRaftMember(grpc::ServerContext* ctx,
                                         const v1::AddRaftMemberRequest* request,
                                         v1::AddRaftMemberResponse*) {
  MV_ADMIT("AddRaftMember");
  MV_RAFT_GROUP(*request);
  MV_LOG(INFO) << "adding raft member " << request->id() << " at " << request->address() << " to "
               << v1::RaftGroup_Name(request->group()) << ", requested by " << who->ToString();
  return ToGrpcStatus((*raft)->AddMember(*request));
}

grpc::Status AdminService::RemoveRaftMember(grpc::ServerContext* ctx,
                                            const v1::RemoveRaftMemberRequest* request,
                                            v1::RemoveRaftMemberResponse*) {
  MV_ADMIT("RemoveRaftMember");
  MV_RAFT_GROUP(*request);
  MV_LOG(INFO) << "removing raft member " << request->id() << " from "
               << v1::RaftGroup_Name(request->group()) << ", requested by " << who->ToString();
  return ToGrpcStatus((*raft)->RemoveMember(*request));
}

grpc::Status AdminService::TransferRaftLeader(grpc::ServerContext* ctx,
                                              const v1::TransferRaftLeaderRequest* request,
                                              v1::TransferRaftLeaderResponse* response) {
  MV_ADMIT("TransferRaftLeader");
  MV_RAFT_GROUP(*request);
  MV_LOG(INFO) << "handing off leadership of " << v1::RaftGroup_Name(request->group())
               << ", requested by " << who->ToString();
  return Reply((*raft)->TransferLeader(*request), response);
}

grpc::Status AdminService::VerifyAudit(grpc::ServerContext* ctx,
                                       const v1::VerifyAuditRequest* request,
                                       v1::VerifyAuditResponse* response) {
  MV_ADMIT("VerifyAudit");
  v1::VerifyAuditRequest forwarded = *request;
  forwarded.mutable_audit()->set_on_behalf_of(who->ToString());
  forwarded.mutable_audit()->set_purpose("VerifyAudit");
  return Reply(keys_->VerifyAudit(forwarded), response);
}

grpc::Status AdminService::TakeBackup(grpc::ServerContext* ctx, const v1::TakeRaftSnapshotRequest*,
                                      grpc::ServerWriter<v1::RaftMessagePiece>*) {
  MV_ADMIT("TakeBackup");
  // It gathered the whole state here; StreamBackup relays it a piece at a time.
  return ToGrpcStatus(absl::FailedPreconditionError(
      "TakeBackup is retired: this frontend streams backups (StreamBackup); use a medvault CLI of "
      "the same version"));
}

grpc::Status AdminService::StreamBackup(grpc::ServerContext* ctx,
                                        const v1::TakeRaftSnapshotRequest* request,
                                        grpc::ServerWriter<v1::RaftBackupPiece>* writer) {
  MV_ADMIT("StreamBackup");
  MV_RAFT_GROUP(*request);
  MV_LOG(INFO) << "backup of " << v1::RaftGroup_Name(request->group()) << " requested by "
               << who->ToString();
  // A piece in, a piece out: Write waits for the caller's flow-control window, so a slow CLI slows
  // the leader down instead of filling this process.
  absl::Status s = (*raft)->StreamBackup(ctx->deadline(), [&](const v1::RaftBackupPiece& piece) {
    if (!writer->Write(piece)) return absl::CancelledError("the backup's caller went away");
    return absl::OkStatus();
  });
  if (!s.ok()) {
    MV_LOG(WARNING) << "backup of " << v1::RaftGroup_Name(request->group())
                    << " ended early: " << s.ToString();
  }
  return ToGrpcStatus(s);
}

}  // namespace medvault::frontend
