// The frontend's operator API (medvault.v1.Admin): KEK rotation and the audit log, for clients
// holding the admin scope, forwarded to the key service with the client's identity for its audit.
#pragma once

#include "common/access_policy.h"
#include "frontend/service/grpc_clients.h"
#include "medvault/v1/admin.grpc.pb.h"

namespace medvault::frontend {

class AdminService final : public v1::Admin::Service {
 public:
  // `keys` and `authz` must outlive the service.
  AdminService(GrpcKeyClient* keys, Authorizer* authz) : keys_(keys), authz_(authz) {}

  grpc::Status QueryAudit(grpc::ServerContext* ctx, const v1::QueryAuditRequest* request,
                          v1::QueryAuditResponse* response) override;
  grpc::Status GetKekStatus(grpc::ServerContext* ctx, const v1::GetKekStatusRequest* request,
                            v1::GetKekStatusResponse* response) override;
  grpc::Status RotateKek(grpc::ServerContext* ctx, const v1::RotateKekRequest* request,
                         v1::RotateKekResponse* response) override;
  grpc::Status RetireKek(grpc::ServerContext* ctx, const v1::RetireKekRequest* request,
                         v1::RetireKekResponse* response) override;

 private:
  GrpcKeyClient* const keys_;
  Authorizer* const authz_;
};

}  // namespace medvault::frontend
