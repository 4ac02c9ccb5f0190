// The frontend's operator API (medvault.v1.Admin), for clients holding the admin scope: KEK
// rotation and the audit log, forwarded to the key service with the client's identity for its
// audit; the chunk-server list, drain and on-demand scrubs, forwarded to the metaserver; Raft
// membership and leadership of either group, forwarded to that group's leader.
#pragma once

#include "common/access_policy.h"
#include "frontend/service/grpc_clients.h"
#include "frontend/service/raft_admin_client.h"
#include "medvault/v1/admin.grpc.pb.h"

namespace medvault::frontend {

class AdminService final : public v1::Admin::Service {
 public:
  // `keys`, `meta` and `authz` must outlive the service.
  AdminService(GrpcKeyClient* keys, GrpcMetaClient* meta, Authorizer* authz)
      : keys_(keys),
        meta_(meta),
        authz_(authz),
        key_raft_(keys->group()),
        meta_raft_(meta->group()) {}

  grpc::Status QueryAudit(grpc::ServerContext* ctx, const v1::QueryAuditRequest* request,
                          v1::QueryAuditResponse* response) override;
  grpc::Status GetKekStatus(grpc::ServerContext* ctx, const v1::GetKekStatusRequest* request,
                            v1::GetKekStatusResponse* response) override;
  grpc::Status RotateKek(grpc::ServerContext* ctx, const v1::RotateKekRequest* request,
                         v1::RotateKekResponse* response) override;
  grpc::Status RetireKek(grpc::ServerContext* ctx, const v1::RetireKekRequest* request,
                         v1::RetireKekResponse* response) override;
  grpc::Status ListChunkServers(grpc::ServerContext* ctx,
                                const v1::ListChunkServersRequest* request,
                                v1::ListChunkServersResponse* response) override;
  grpc::Status DrainChunkServer(grpc::ServerContext* ctx,
                                const v1::DrainChunkServerRequest* request,
                                v1::DrainChunkServerResponse* response) override;
  grpc::Status StartScrub(grpc::ServerContext* ctx, const v1::StartScrubMetaRequest* request,
                          v1::StartScrubMetaResponse* response) override;
  grpc::Status GetScrubStatus(grpc::ServerContext* ctx,
                              const v1::GetScrubStatusMetaRequest* request,
                              v1::GetScrubStatusMetaResponse* response) override;
  grpc::Status CheckIndex(grpc::ServerContext* ctx, const v1::CheckIndexRequest* request,
                          v1::CheckIndexResponse* response) override;
  grpc::Status GetRaftStatus(grpc::ServerContext* ctx, const v1::GetRaftStatusRequest* request,
                             v1::GetRaftStatusResponse* response) override;
  grpc::Status AddRaftMember(grpc::ServerContext* ctx, const v1::AddRaftMemberRequest* request,
                             v1::AddRaftMemberResponse* response) override;
  grpc::Status RemoveRaftMember(grpc::ServerContext* ctx,
                                const v1::RemoveRaftMemberRequest* request,
                                v1::RemoveRaftMemberResponse* response) override;
  grpc::Status TransferRaftLeader(grpc::ServerContext* ctx,
                                  const v1::TransferRaftLeaderRequest* request,
                                  v1::TransferRaftLeaderResponse* response) override;
  grpc::Status VerifyAudit(grpc::ServerContext* ctx, const v1::VerifyAuditRequest* request,
                           v1::VerifyAuditResponse* response) override;
  grpc::Status TakeBackup(grpc::ServerContext* ctx, const v1::TakeRaftSnapshotRequest* request,
                          grpc::ServerWriter<v1::RaftMessagePiece>* writer) override;
  grpc::Status StreamBackup(grpc::ServerContext* ctx, const v1::TakeRaftSnapshotRequest* request,
                            grpc::ServerWriter<v1::RaftBackupPiece>* writer) override;

 private:
  // The group a Raft call names; INVALID_ARGUMENT when none.
  absl::StatusOr<RaftAdminClient*> RaftGroup(v1::RaftGroup group);

  GrpcKeyClient* const keys_;
  GrpcMetaClient* const meta_;
  Authorizer* const authz_;
  RaftAdminClient key_raft_;
  RaftAdminClient meta_raft_;
};

}  // namespace medvault::frontend
