#include "keyservice/service/key_service.h"

#include <chrono>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/rpc.h"

namespace medvault::keyservice {

KeyServiceImpl::KeyServiceImpl(KeyStore* store, prometheus::Registry& registry)
    : store_(store),
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
                              "Latency of GenerateDataKeys, including the sync write.")) {}

grpc::Status KeyServiceImpl::Fail(const absl::Status& status) {
  request_errors_.Increment();
  return ToGrpcStatus(status);
}

grpc::Status KeyServiceImpl::GenerateDataKeys(grpc::ServerContext* context,
                                              const v1::GenerateDataKeysRequest* request,
                                              v1::GenerateDataKeysResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<GeneratedKey>> keys = store_->Generate(request->count());
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
  absl::StatusOr<SecretBytes> key = store_->Get(request->object_id());
  if (!key.ok()) return Fail(key.status());
  v1::DataKey* out = response->mutable_key();
  out->set_object_id(request->object_id());
  out->set_key(key->view().data(), key->view().size());
  key->Wipe();
  keys_released_.Increment();
  return grpc::Status::OK;
}

grpc::Status KeyServiceImpl::DestroyDataKeys(grpc::ServerContext* context,
                                             const v1::DestroyDataKeysRequest* request,
                                             v1::DestroyDataKeysResponse* response) {
  const std::vector<std::string> ids(request->object_ids().begin(), request->object_ids().end());
  absl::StatusOr<uint32_t> destroyed = store_->Destroy(ids);
  if (!destroyed.ok()) return Fail(destroyed.status());
  response->set_destroyed(*destroyed);
  keys_destroyed_.Increment(static_cast<double>(*destroyed));
  return grpc::Status::OK;
}

}  // namespace medvault::keyservice
