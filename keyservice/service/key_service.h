// The gRPC face of the key service (medvault.v1.KeyService): authorises the caller by its
// certificate (only the frontend; anyone else is refused and the refusal audited), validates
// requests, calls KeyStore, maps its Status onto gRPC and records Prometheus metrics. Key bytes
// only pass through: they are copied into the response and every local copy is wiped.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <string>
#include <vector>

#include "common/access_policy.h"
#include "keyservice/core/audit_verify.h"
#include "keyservice/core/key_store.h"
#include "medvault/v1/keyservice.grpc.pb.h"

namespace medvault::keyservice {

// Who may call what: every method is the frontend's alone (it checks its own clients' scopes
// before forwarding the admin calls).
AccessPolicy KeyServicePolicy();

class KeyServiceImpl final : public v1::KeyService::Service {
 public:
  // `store` must outlive this service. Metrics are registered in `registry`. `enforce_access`
  // is false only for a plaintext (--insecure_plaintext) process. `on_rotate` (may be empty)
  // runs after a successful RotateKek, to start the background rewrap at once.
  KeyServiceImpl(KeyStore* store, prometheus::Registry& registry, bool enforce_access,
                 std::function<void()> on_rotate = {});

  grpc::Status GenerateDataKeys(grpc::ServerContext* context,
                                const v1::GenerateDataKeysRequest* request,
                                v1::GenerateDataKeysResponse* response) override;
  grpc::Status GetDataKey(grpc::ServerContext* context, const v1::GetDataKeyRequest* request,
                          v1::GetDataKeyResponse* response) override;
  grpc::Status GetDataKeys(grpc::ServerContext* context, const v1::GetDataKeysRequest* request,
                           v1::GetDataKeysResponse* response) override;
  grpc::Status DestroyDataKeys(grpc::ServerContext* context,
                               const v1::DestroyDataKeysRequest* request,
                               v1::DestroyDataKeysResponse* response) override;
  grpc::Status QueryAudit(grpc::ServerContext* context, const v1::QueryAuditRequest* request,
                          v1::QueryAuditResponse* response) override;
  grpc::Status RecordDenial(grpc::ServerContext* context, const v1::RecordDenialRequest* request,
                            v1::RecordDenialResponse* response) override;
  grpc::Status RecordShareEvent(grpc::ServerContext* context,
                                const v1::RecordShareEventRequest* request,
                                v1::RecordShareEventResponse* response) override;
  grpc::Status GetKekStatus(grpc::ServerContext* context, const v1::GetKekStatusRequest* request,
                            v1::GetKekStatusResponse* response) override;
  grpc::Status RotateKek(grpc::ServerContext* context, const v1::RotateKekRequest* request,
                         v1::RotateKekResponse* response) override;
  grpc::Status RetireKek(grpc::ServerContext* context, const v1::RetireKekRequest* request,
                         v1::RetireKekResponse* response) override;
  grpc::Status VerifyAudit(grpc::ServerContext* context, const v1::VerifyAuditRequest* request,
                           v1::VerifyAuditResponse* response) override;

  // Serves VerifyAudit (UNIMPLEMENTED until set). Must outlive the service; set before serving.
  void set_audit_checker(AuditChecker* checker) { audit_checker_ = checker; }

 private:
  // Authorises the call; on refusal records it (with the objects asked about) in the audit log.
  absl::StatusOr<AuditInfo> Admit(const grpc::ServerContext& context, absl::string_view method,
                                  const v1::AuditContext& audit,
                                  const std::vector<std::string>& object_ids = {});
  // Counts an error and converts it.
  grpc::Status Fail(const absl::Status& status);

  KeyStore* const store_;
  Authorizer authz_;
  const std::function<void()> on_rotate_;
  AuditChecker* audit_checker_ = nullptr;
  prometheus::Counter& keys_generated_;
  prometheus::Counter& keys_released_;
  prometheus::Counter& keys_destroyed_;
  prometheus::Counter& request_errors_;
  prometheus::Histogram& generate_latency_;
};

}  // namespace medvault::keyservice
