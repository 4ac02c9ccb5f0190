// The gRPC face of the key service (medvault.v1.KeyService): validates requests, calls KeyStore,
// maps its Status onto gRPC and records Prometheus metrics. Key bytes only pass through: they are
// copied into the response and every local copy is wiped.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "keyservice/core/key_store.h"
#include "medvault/v1/keyservice.grpc.pb.h"

namespace medvault::keyservice {

class KeyServiceImpl final : public v1::KeyService::Service {
 public:
  // `store` must outlive this service. Metrics are registered in `registry`.
  KeyServiceImpl(KeyStore* store, prometheus::Registry& registry);

  grpc::Status GenerateDataKeys(grpc::ServerContext* context,
                                const v1::GenerateDataKeysRequest* request,
                                v1::GenerateDataKeysResponse* response) override;
  grpc::Status GetDataKey(grpc::ServerContext* context, const v1::GetDataKeyRequest* request,
                          v1::GetDataKeyResponse* response) override;
  grpc::Status DestroyDataKeys(grpc::ServerContext* context,
                               const v1::DestroyDataKeysRequest* request,
                               v1::DestroyDataKeysResponse* response) override;

 private:
  // Counts an error and converts it.
  grpc::Status Fail(const absl::Status& status);

  KeyStore* const store_;
  prometheus::Counter& keys_generated_;
  prometheus::Counter& keys_released_;
  prometheus::Counter& keys_destroyed_;
  prometheus::Counter& request_errors_;
  prometheus::Histogram& generate_latency_;
};

}  // namespace medvault::keyservice
