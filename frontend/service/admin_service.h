// The frontend's operator API (medvault.v1.Admin), for clients holding the admin scope: KEK
// rotation and the audit log, forwarded to the key service with the client's identity for its
// audit; the chunk-server list, drain and on-demand scrubs, forwarded to the metaserver.
#pragma once

#include "common/access_policy.h"
#include "frontend/service/grpc_clients.h"
#include "medvault/v1/admin.grpc.pb.h"

namespace medvault::frontend {

class AdminService final : public v1::Admin::Service {
 public:
  // `keys`, `meta` and `authz` must outlive the service.
  AdminService(GrpcKeyClient* keys, GrpcMetaClient* meta, Authorizer* authz)
      : keys_(keys), meta_(meta), authz_(authz) {}

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
  grpc::Status VerifyAudit(grpc::ServerContext* ctx, const v1::VerifyAuditRequest* request,
                           v1::VerifyAuditResponse* response) override;

 private:
  GrpcKeyClient* const keys_;
  GrpcMetaClient* const meta_;
  Authorizer* const authz_;
};

}  // namespace medvault::frontend
