// The public ImageStore gRPC service: authorises the client by the scopes of its certificate's
// name, reads requests, calls ImageStoreCore, maps errors, records metrics. Holds nothing durable.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "common/access_policy.h"
#include "frontend/core/image_store_core.h"
#include "frontend/core/share_desk.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace medvault::frontend {

// The frontend's rules: ImageStore reads need the read scope, puts write, deletes delete, and every
// Admin call admin. Only clients (certificate role "client") hold scopes; services hold none here.
AccessPolicy FrontendPolicy(ClientScopes scopes);

class ImageStoreService final : public v1::ImageStore::Service {
 public:
  // `max_instance_bytes`: larger puts are refused with RESOURCE_EXHAUSTED. `max_transfers`: puts
  // and reads beyond this many at once are refused with RESOURCE_EXHAUSTED (with the core's chunk
  // budget, this bounds the frontend's memory). `core` and `authz` must outlive the service.
  ImageStoreService(ImageStoreCore* core, Authorizer* authz, prometheus::Registry& registry,
                    uint64_t max_instance_bytes, uint32_t max_transfers);

  grpc::Status PutInstance(grpc::ServerContext* ctx,
                           grpc::ServerReader<v1::PutInstanceRequest>* reader,
                           v1::PutInstanceResponse* response) override;
  grpc::Status GetInstance(grpc::ServerContext* ctx, const v1::GetInstanceRequest* request,
                           grpc::ServerWriter<v1::GetInstanceResponse>* writer) override;
  grpc::Status RetrieveStudy(grpc::ServerContext* ctx, const v1::RetrieveStudyRequest* request,
                             grpc::ServerWriter<v1::RetrieveStudyResponse>* writer) override;
  grpc::Status FindStudies(grpc::ServerContext* ctx, const v1::FindStudiesRequest* request,
                           v1::FindStudiesResponse* response) override;
  grpc::Status GetStudy(grpc::ServerContext* ctx, const v1::GetStudyRequest* request,
                        v1::GetStudyResponse* response) override;
  grpc::Status DeleteStudy(grpc::ServerContext* ctx, const v1::DeleteStudyRequest* request,
                           v1::DeleteStudyResponse* response) override;
  grpc::Status DeleteInstance(grpc::ServerContext* ctx, const v1::DeleteInstanceRequest* request,
                              v1::DeleteInstanceResponse* response) override;
  grpc::Status FindSeries(grpc::ServerContext* ctx, const v1::FindSeriesRequest* request,
                          v1::FindSeriesResponse* response) override;
  grpc::Status FindInstances(grpc::ServerContext* ctx, const v1::FindInstancesRequest* request,
                             v1::FindInstancesResponse* response) override;

  // Shares (image_store_shares.cc); FAILED_PRECONDITION until set_share_desk.
  grpc::Status CreateShare(grpc::ServerContext* ctx, const v1::CreateShareRequest* request,
                           v1::CreateShareResponse* response) override;
  grpc::Status ListShares(grpc::ServerContext* ctx, const v1::ListSharesRequest* request,
                          v1::ListSharesResponse* response) override;
  grpc::Status GetShare(grpc::ServerContext* ctx, const v1::ShareRequest* request,
                        v1::ShareResponse* response) override;
  grpc::Status RevokeShare(grpc::ServerContext* ctx, const v1::ShareRequest* request,
                           v1::ShareResponse* response) override;
  grpc::Status UnlockShare(grpc::ServerContext* ctx, const v1::ShareRequest* request,
                           v1::ShareResponse* response) override;
  grpc::Status GetShareLog(grpc::ServerContext* ctx, const v1::ShareRequest* request,
                           v1::GetShareLogResponse* response) override;
  // Retention rules (delete scope) and legal holds (admin scope).
  grpc::Status SetRetention(grpc::ServerContext* ctx, const v1::SetRetentionRequest* request,
                            v1::RetentionResponse* response) override;
  grpc::Status SetLegalHold(grpc::ServerContext* ctx, const v1::SetLegalHoldRequest* request,
                            v1::RetentionResponse* response) override;
  // Must outlive the service; set before it serves.
  void set_share_desk(ShareDesk* desk) { shares_ = desk; }

 private:
  ImageStoreCore* core_;
  ShareDesk* shares_ = nullptr;
  // Counts one call in medvault_frontend_requests_total and converts its status.
  grpc::Status Finish(const char* method, const absl::Status& status);
  // The caller's identity when it may call `method` and shares are served.
  absl::StatusOr<PeerIdentity> AuthorizeShares(const grpc::ServerContext& ctx, const char* method);
  Authorizer* const authz_;
  const uint64_t max_instance_bytes_;
  SlotPool transfers_;  // one slot per PutInstance or GetInstance being served
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Counter& put_bytes_;
  prometheus::Counter& get_bytes_;
  prometheus::Histogram& put_latency_;
  prometheus::Histogram& get_latency_;
  prometheus::Family<prometheus::Histogram>& put_stages_;
  std::vector<prometheus::Histogram*> put_stage_series_;  // in PutTimings order
  prometheus::Family<prometheus::Histogram>& get_stages_;
  std::vector<prometheus::Histogram*> get_stage_series_;  // in GetTimings order
  prometheus::Gauge& budget_in_use_;
  prometheus::Gauge& budget_peak_;
  prometheus::Gauge& transfers_active_;

  // A slot for one more transfer, or the RESOURCE_EXHAUSTED refusal (counted under `method`).
  absl::StatusOr<SlotPool::Lease> AdmitTransfer(const char* method);

  void ObservePutStages(const PutTimings& timings);
  void ObserveGetStages(const GetTimings& timings);
  // Brings the core's counters (CoreStats, the chunk budget) into the registry; called after
  // every call.
  void ExportCoreStats();

  struct CoreCounter {
    const std::atomic<uint64_t>* source;
    prometheus::Counter* counter;
    uint64_t exported = 0;
  };
  std::mutex core_counters_mu_;
  std::vector<CoreCounter> core_counters_;
};

}  // namespace medvault::frontend
