#include "keyservice/service/key_service.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/rpc.h"
#include "common/tls.h"

namespace medvault::keyservice {

AccessPolicy KeyServicePolicy() {
  AccessPolicy policy;
  for (const char* method : {"GenerateDataKeys", "GetDataKey", "DestroyDataKeys", "QueryAudit",
                             "RecordDenial", "GetKekStatus", "RotateKek", "RetireKek",
                             "VerifyAudit", "GetDataKeys", "RecordShareEvent"}) {
    policy.AllowRoles(method, {kFrontendPeer});
  }
  // The metaserver's retention task destroys the keys of the studies it deletes (it never obtains
  // a key).
  policy.AllowRoles("DestroyDataKeys", {kMetaServerPeer});
  return policy;
}

KeyServiceImpl::KeyServiceImpl(KeyStore* store, prometheus::Registry& registry, bool enforce_access,
                               std::function<void()> on_rotate)
    : store_(store),
      authz_("keyservice", KeyServicePolicy(), enforce_access, registry),
      on_rotate_(std::move(on_rotate)),
      keys_generated_(NewCounter(registry, "medvault_keyservice_keys_generated_total",
                                 "Data keys generated and stored.")),
      keys_released_(NewCounter(registry, "medvault_keyservice_keys_released_total",
                                "Data keys unwrapped and returned to a caller.")),
      keys_destroyed_(NewCounter(registry, "medvault_keyservice_keys_destroyed_total",
                                 "Data keys destroyed (crypto-shredded).")),
      request_errors_(NewCounter(registry, "medvault_keyservice_request_errors_total",
                                 "KeyService requests that returned an error.")),
      generate_latency_(
          NewLatencyHistogram(registry, "medvault_keyservice_generate_latency_seconds",
                              "Latency of GenerateDataKeys, including the sync write.")) {
  // The counter lives in the registry, which outlives the store in every process; the hook must
  // not capture this service.
  prometheus::Counter* audit_write_failures = &NewCounter(
      registry, "medvault_keyservice_audit_write_failures_total",
      "Audit records whose write (with the operation they record) failed; each such operation "
      "was refused. Includes a follower's refusals (it cannot commit) during a leader change.");
  store_->audit()->set_on_write_failure(
      [audit_write_failures] { audit_write_failures->Increment(); });
}

grpc::Status KeyServiceImpl::Fail(const absl::Status& status) {
  request_errors_.Increment();
  return ToGrpcStatus(status);
}

absl::StatusOr<AuditInfo> KeyServiceImpl::Admit(const grpc::ServerContext& context,
                                                absl::string_view method,
                                                const v1::AuditContext& audit,
                                                const std::vector<std::string>& object_ids) {
  PeerIdentity caller;
  absl::StatusOr<PeerIdentity> who = authz_.Authorize(context, method, &caller);
  AuditInfo info{caller.ToString(), audit.on_behalf_of(), audit.purpose(), audit.peer()};
  if (!who.ok()) {
    // For a refusal the purpose recorded is the refused method: what was attempted.
    info.purpose = std::string(method);
    store_->RecordDenial(info, who.status(), object_ids);
    return who.status();
  }
  return info;
}

grpc::Status KeyServiceImpl::GenerateDataKeys(grpc::ServerContext* context,
                                              const v1::GenerateDataKeysRequest* request,
                                              v1::GenerateDataKeysResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<AuditInfo> who = Admit(*context, "GenerateDataKeys", request->audit());
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<std::vector<GeneratedKey>> keys = store_->Generate(request->count(), *who);
  if (!keys.ok()) return Fail(keys.status());
  for (const GeneratedKey& k : *keys) {
    v1::DataKey* out = response->add_keys();
    out->set_object_id(k.object_id);
    out->set_key(k.key.view().data(), k.key.view().size());
  }
  keys->clear();  // SecretBytes wipe the local copies
  keys_generated_.Increment(static_cast<double>(response->keys_size()));
  generate_latency_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::GetDataKey(grpc::ServerContext* context,
                                        const v1::GetDataKeyRequest* request,
                                        v1::GetDataKeyResponse* response) {
  absl::StatusOr<AuditInfo> who =
      Admit(*context, "GetDataKey", request->audit(), {request->object_id()});
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<SecretBytes> key = store_->Get(request->object_id(), *who);
  if (!key.ok()) return Fail(key.status());
  v1::DataKey* out = response->mutable_key();
  out->set_object_id(request->object_id());
  out->set_key(key->view().data(), key->view().size());
  key->Wipe();
  keys_released_.Increment();
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::GetDataKeys(grpc::ServerContext* context,
                                         const v1::GetDataKeysRequest* request,
                                         v1::GetDataKeysResponse* response) {
  const std::vector<std::string> ids(request->object_ids().begin(), request->object_ids().end());
  absl::StatusOr<AuditInfo> who = Admit(*context, "GetDataKeys", request->audit(), ids);
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> keys = store_->GetMany(ids, *who);
  if (!keys.ok()) return Fail(keys.status());
  uint32_t released = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    v1::ReleasedDataKey* out = response->add_keys();
    out->mutable_key()->set_object_id(ids[i]);
    absl::StatusOr<SecretBytes>& key = (*keys)[i];
    if (!key.ok()) {
      out->set_refused(absl::StatusCodeToString(key.status().code()));
      continue;
    }
    out->mutable_key()->set_key(key->view().data(), key->view().size());
    key->Wipe();
    ++released;
  }
  keys_released_.Increment(released);
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::DestroyDataKeys(grpc::ServerContext* context,
                                             const v1::DestroyDataKeysRequest* request,
                                             v1::DestroyDataKeysResponse* response) {
  const std::vector<std::string> ids(request->object_ids().begin(), request->object_ids().end());
  absl::StatusOr<AuditInfo> who = Admit(*context, "DestroyDataKeys", request->audit(), ids);
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<uint32_t> destroyed = store_->Destroy(ids, *who);
  if (!destroyed.ok()) return Fail(destroyed.status());
  response->set_destroyed(*destroyed);
  keys_destroyed_.Increment(static_cast<double>(*destroyed));
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::QueryAudit(grpc::ServerContext* context,
                                        const v1::QueryAuditRequest* request,
                                        v1::QueryAuditResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "QueryAudit", v1::AuditContext());
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<v1::QueryAuditResponse> found = store_->audit()->Query(*request);
  if (!found.ok()) return Fail(found.status());
  *response = *std::move(found);
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::RecordDenial(grpc::ServerContext* context,
                                          const v1::RecordDenialRequest* request,
                                          v1::RecordDenialResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "RecordDenial", request->audit());
  if (!who.ok()) return Fail(who.status());
  const absl::StatusCode code = request->result() == "UNAUTHENTICATED"
                                    ? absl::StatusCode::kUnauthenticated
                                    : absl::StatusCode::kPermissionDenied;
  store_->RecordDenial(*who, absl::Status(code, "refused by the frontend"));
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::RecordShareEvent(grpc::ServerContext* context,
                                              const v1::RecordShareEventRequest* request,
                                              v1::RecordShareEventResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "RecordShareEvent", request->audit());
  if (!who.ok()) return Fail(who.status());
  absl::Status recorded = store_->RecordShareEvent(*who, request->result());
  if (!recorded.ok()) return Fail(recorded);
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::GetKekStatus(grpc::ServerContext* context,
                                          const v1::GetKekStatusRequest* request,
                                          v1::GetKekStatusResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "GetKekStatus", v1::AuditContext());
  if (!who.ok()) return Fail(who.status());
  absl::StatusOr<KekCensus> census = store_->Census();
  if (!census.ok()) return Fail(census.status());
  std::set<uint32_t> versions(census->state.retired_versions().begin(),
                              census->state.retired_versions().end());
  const std::set<uint32_t> retired = versions;
  const std::vector<uint32_t> loaded = store_->kek_versions();
  versions.insert(loaded.begin(), loaded.end());
  for (const auto& [v, n] : census->keys_by_version) versions.insert(v);
  if (census->state.active_version() != 0) versions.insert(census->state.active_version());
  for (uint32_t v : versions) {
    v1::KekVersionStatus* out = response->add_versions();
    out->set_version(v);
    auto n = census->keys_by_version.find(v);
    out->set_keys(n == census->keys_by_version.end() ? 0 : n->second);
    out->set_loaded(std::find(loaded.begin(), loaded.end(), v) != loaded.end());
    out->set_retired(retired.count(v) > 0);
  }
  response->set_active_version(census->state.active_version());
  response->set_keys_to_rewrap(census->to_rewrap);
  response->set_total_keys(census->total);
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::RotateKek(grpc::ServerContext* context,
                                       const v1::RotateKekRequest* request,
                                       v1::RotateKekResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "RotateKek", request->audit());
  if (!who.ok()) return Fail(who.status());
  if (absl::Status rotated = store_->Rotate(request->version(), *who); !rotated.ok()) {
    return Fail(rotated);
  }
  absl::StatusOr<KekCensus> census = store_->Census();
  if (census.ok()) response->set_keys_to_rewrap(census->to_rewrap);
  if (on_rotate_) on_rotate_();
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::RetireKek(grpc::ServerContext* context,
                                       const v1::RetireKekRequest* request,
                                       v1::RetireKekResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "RetireKek", request->audit());
  if (!who.ok()) return Fail(who.status());
  if (absl::Status retired = store_->Retire(request->version(), *who); !retired.ok()) {
    return Fail(retired);
  }
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::VerifyAudit(grpc::ServerContext* context,
                                         const v1::VerifyAuditRequest* request,
                                         v1::VerifyAuditResponse* response) {
  absl::StatusOr<AuditInfo> who = Admit(*context, "VerifyAudit", request->audit());
  if (!who.ok()) return Fail(who.status());
  if (audit_checker_ == nullptr) return Fail(absl::UnimplementedError("audit verification"));
  absl::StatusOr<v1::VerifyAuditResponse> verified = audit_checker_->Verify(request->sign_head());
  // The check itself is recorded (after it, so it never checks its own record).
  v1::AuditRecord record = store_->audit()->NewRecord("verify", *who);
  record.set_result(!verified.ok() ? std::string(absl::StatusCodeToString(verified.status().code()))
                    : verified->ok() ? "OK"
                                     : "DATA_LOSS");
  if (absl::Status s = store_->audit()->Append(record); s.ok()) AuditLog::Log(record);
  if (!verified.ok()) return Fail(verified.status());
  *response = *std::move(verified);
  return grpc::Status::OK;
}

}  // namespace medvault::keyservice
