#include "frontend/service/image_store_service.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/rpc.h"
#include "frontend/core/put_session.h"

namespace medvault::frontend {
namespace {

// Largest data field of one GetInstance message.
constexpr size_t kMaxResponsePiece = 1 << 20;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const char* CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "OTHER";
  }
}

// Sends `data` (of the instance, from `offset`) in messages of at most kMaxResponsePiece, the
// first carrying `*unsent_info` when set; counts the bytes in `sent`.
template <typename Response>
absl::Status WritePieces(grpc::ServerWriter<Response>* writer,
                         std::optional<v1::InstanceInfo>* unsent_info, uint64_t offset,
                         absl::string_view data, prometheus::Counter& sent) {
  while (!data.empty()) {
    Response msg;
    if (*unsent_info) {
      *msg.mutable_info() = std::move(**unsent_info);
      unsent_info->reset();
    }
    absl::string_view piece = data.substr(0, kMaxResponsePiece);
    msg.set_offset(offset);
    msg.set_data(piece.data(), piece.size());
    if (!writer->Write(msg)) return absl::CancelledError("client went away");
    sent.Increment(static_cast<double>(piece.size()));
    data.remove_prefix(piece.size());
    offset += piece.size();
  }
  return absl::OkStatus();
}

}  // namespace

AccessPolicy FrontendPolicy(ClientScopes scopes) {
  AccessPolicy policy;
  policy.AllowScope("PutInstance", Scope::kWrite)
      .AllowScope("GetInstance", Scope::kRead)
      .AllowScope("FindStudies", Scope::kRead)
      .AllowScope("GetStudy", Scope::kRead)
      .AllowScope("FindSeries", Scope::kRead)
      .AllowScope("FindInstances", Scope::kRead)
      .AllowScope("DeleteStudy", Scope::kDelete)
      .AllowScope("DeleteInstance", Scope::kDelete)
      .AllowScope("CreateShare", Scope::kWrite)
      .AllowScope("ListShares", Scope::kRead)
      .AllowScope("GetShare", Scope::kRead)
      .AllowScope("RevokeShare", Scope::kWrite)
      .AllowScope("UnlockShare", Scope::kAdmin)
      .AllowScope("GetShareLog", Scope::kRead)
      .AllowScope("RetrieveStudy", Scope::kRead)
      // A retention rule schedules a deletion: whoever may delete may set one. A legal hold
      // overrides deletion, so only an admin places or releases it.
      .AllowScope("SetRetention", Scope::kDelete)
      .AllowScope("SetLegalHold", Scope::kAdmin);
  // A recipient's browser session (frontend/web/share_web.h) reads through the DICOMweb door's
  // handlers, which ShareWeb has already confined to the share's studies.
  policy.AllowRoles("GetInstance", {kShareSessionRole}).AllowRoles("GetStudy", {kShareSessionRole});
  for (const char* method :
       {"QueryAudit", "GetKekStatus", "RotateKek", "RetireKek", "ListChunkServers",
        "DrainChunkServer", "StartScrub", "GetScrubStatus", "CheckIndex", "GetRaftStatus",
        "AddRaftMember", "RemoveRaftMember", "TransferRaftLeader", "TakeBackup"}) {
    policy.AllowScope(method, Scope::kAdmin);
  }
  policy.AllowScope("VerifyAudit", Scope::kAdmin).AllowScope("VerifyAudit", Scope::kAudit);
  policy.AllowScope("StreamBackup", Scope::kAdmin);
  policy.set_client_scopes(std::move(scopes));
  return policy;
}

ImageStoreService::ImageStoreService(ImageStoreCore* core, Authorizer* authz,
                                     prometheus::Registry& registry, uint64_t max_instance_bytes,
                                     uint32_t max_transfers)
    : core_(core),
      authz_(authz),
      max_instance_bytes_(max_instance_bytes),
      transfers_(max_transfers),
      requests_(prometheus::BuildCounter()
                    .Name("medvault_frontend_requests_total")
                    .Help("ImageStore calls by method and result code")
                    .Register(registry)),
      put_bytes_(NewCounter(registry, "medvault_frontend_put_bytes_total",
                            "Instance bytes stored by PutInstance")),
      get_bytes_(NewCounter(registry, "medvault_frontend_get_bytes_total",
                            "Instance bytes returned by GetInstance")),
      put_latency_(
          NewLatencyHistogram(registry, "medvault_frontend_put_latency_seconds",
                              "PutInstance latency from first byte received to acknowledgement")),
      get_latency_(NewLatencyHistogram(registry, "medvault_frontend_get_latency_seconds",
                                       "GetInstance latency")),
      put_stages_(
          prometheus::BuildHistogram()
              .Name("medvault_frontend_put_stage_seconds")
              .Help("Time successful PutInstance calls spent per stage (parse, lookup, key, place, "
                    "seal, write, commit)")
              .Register(registry)),
      get_stages_(
          prometheus::BuildHistogram()
              .Name("medvault_frontend_get_stage_seconds")
              .Help("Time successful GetInstance calls spent per stage (lookup, fetch, key, "
                    "decrypt, send)")
              .Register(registry)),
      budget_in_use_(NewGauge(
          registry, "medvault_frontend_chunk_budget_in_use",
          "Slots of the chunk budget (--transfer_memory_mib) held by put and read windows")),
      budget_peak_(NewGauge(registry, "medvault_frontend_chunk_budget_peak",
                            "The most slots of the chunk budget ever held at once")),
      transfers_active_(NewGauge(
          registry, "medvault_frontend_transfers_active",
          "PutInstance and GetInstance calls being served (at most --max_concurrent_transfers)")) {
  NewGauge(registry, "medvault_frontend_chunk_budget_slots",
           "Slots in the chunk budget (chunks beyond each transfer's first)")
      .Set(core_->chunk_budget().slots());
  for (const char* stage : {"parse", "lookup", "key", "place", "seal", "write", "commit"}) {
    put_stage_series_.push_back(&put_stages_.Add({{"stage", stage}}, LatencyBuckets()));
  }
  for (const char* stage : {"lookup", "fetch", "key", "decrypt", "send"}) {
    get_stage_series_.push_back(&get_stages_.Add({{"stage", stage}}, LatencyBuckets()));
  }
  const CoreStats& st = core_->stats();
  const struct {
    const std::atomic<uint64_t>* source;
    const char* name;
    const char* help;
  } kCore[] = {
      {&st.replica_write_failures, "medvault_frontend_replica_write_failures_total",
       "Chunk replica writes that failed"},
      {&st.read_failovers, "medvault_frontend_read_failovers_total",
       "Chunk reads answered by another replica after an error"},
      {&st.hedged_reads, "medvault_frontend_hedged_reads_total",
       "Chunk reads also asked of a second replica because the first was slow"},
      {&st.bad_replicas_reported, "medvault_frontend_bad_replicas_reported_total",
       "Replicas reported to the metaserver as corrupt or missing"},
      {&st.abandoned_puts, "medvault_frontend_abandoned_puts_total",
       "Puts that ended before their commit (their key destroyed)"},
      {&st.uncertain_commits, "medvault_frontend_uncertain_commits_total",
       "Manifest commits whose outcome stayed unknown"},
      {&st.put_window_waits, "medvault_frontend_put_window_waits_total",
       "Times a put waited for its window of chunk writes (chunk servers slower than the upload, "
       "or the chunk budget spent)"},
      {&st.chunks_replaced, "medvault_frontend_chunks_replaced_total",
       "Chunks written again on servers placed afresh after a replica write failed"},
      {&core_->chunk_budget().denial_counter(), "medvault_frontend_chunk_budget_denials_total",
       "Times a put or read window could not grow because the chunk budget was spent"},
      {&core_->manifest_cache().hits(), "medvault_frontend_manifest_cache_hits_total",
       "Reads that used a cached instance manifest (no metaserver lookup)"},
      {&core_->manifest_cache().misses(), "medvault_frontend_manifest_cache_misses_total",
       "Reads that looked the instance manifest up (not cached, or expired)"},
      {&core_->key_grants().hits(), "medvault_frontend_key_grant_hits_total",
       "Reads whose data key came from the client's study key grant (no key service call)"},
      {&core_->key_grants().releases(), "medvault_frontend_key_grant_releases_total",
       "Study key grants made: one audited release of a study's keys each"},
      {&core_->key_grants().misses(), "medvault_frontend_key_grant_misses_total",
       "Reads a study key grant could not serve, which released their key alone"},
  };
  for (const auto& c : kCore)
    core_counters_.push_back(CoreCounter{c.source, &NewCounter(registry, c.name, c.help)});
}

void ImageStoreService::ExportCoreStats() {
  std::lock_guard<std::mutex> lock(core_counters_mu_);
  for (CoreCounter& c : core_counters_) {
    const uint64_t now = c.source->load();
    if (now > c.exported) c.counter->Increment(static_cast<double>(now - c.exported));
    c.exported = now;
  }
  budget_in_use_.Set(core_->chunk_budget().in_use());
  budget_peak_.Set(core_->chunk_budget().peak());
  transfers_active_.Set(transfers_.in_use());
}

#define MV_COUNT(method, status)                                                          \
  do {                                                                                    \
    requests_.Add({{"method", method}, {"code", CodeName((status).code())}}).Increment(); \
    ExportCoreStats();                                                                    \
  } while (0)

grpc::Status ImageStoreService::Finish(const char* method, const absl::Status& status) {
  MV_COUNT(method, status);
  return ToGrpcStatus(status);
}

// Authorises the call or returns its refusal (counted like any other result).
#define MV_AUTHORIZE(method)                                          \
  absl::StatusOr<PeerIdentity> who = authz_->Authorize(*ctx, method); \
  if (!who.ok()) {                                                    \
    MV_COUNT(method, who.status());                                   \
    return ToGrpcStatus(who.status());                                \
  }

absl::StatusOr<SlotPool::Lease> ImageStoreService::AdmitTransfer(const char* method) {
  SlotPool::Lease slot = transfers_.TryLease();
  if (!slot.held()) {
    absl::Status refused = absl::ResourceExhaustedError(
        absl::StrCat("the frontend is serving its maximum of ", transfers_.slots(),
                     " puts and reads at once; retry shortly"));
    MV_COUNT(method, refused);
    return refused;
  }
  transfers_active_.Set(transfers_.in_use());
  return slot;
}

void ImageStoreService::ObservePutStages(const PutTimings& t) {
  const double values[] = {t.parse, t.lookup, t.key, t.place, t.seal, t.write, t.commit};
  for (size_t i = 0; i < put_stage_series_.size(); ++i) put_stage_series_[i]->Observe(values[i]);
}

void ImageStoreService::ObserveGetStages(const GetTimings& t) {
  const double values[] = {t.lookup, t.fetch, t.key, t.decrypt, t.send};
  for (size_t i = 0; i < get_stage_series_.size(); ++i) get_stage_series_[i]->Observe(values[i]);
}

grpc::Status ImageStoreService::PutInstance(grpc::ServerContext* ctx,
                                            grpc::ServerReader<v1::PutInstanceRequest>* reader,
                                            v1::PutInstanceResponse* response) {
  MV_AUTHORIZE("PutInstance");
  absl::StatusOr<SlotPool::Lease> admitted = AdmitTransfer("PutInstance");
  if (!admitted.ok()) return ToGrpcStatus(admitted.status());
  auto start = std::chrono::steady_clock::now();
  // The core stores the file while it arrives (put_session.h); `timings` outlives the session.
  PutTimings timings;
  std::unique_ptr<PutSession> session = core_->StartPut(&timings);
  uint64_t received = 0;
  v1::PutInstanceRequest piece;
  absl::Status status;
  while (reader->Read(&piece)) {
    received += piece.data().size();
    if (received > max_instance_bytes_) {
      status = absl::ResourceExhaustedError(
          absl::StrCat("instance exceeds the ", max_instance_bytes_, "-byte limit"));
      break;
    }
    status = session->Append(piece.data());
    if (!status.ok()) break;
  }
  if (status.ok() && ctx->IsCancelled())
    status = absl::CancelledError("client cancelled the upload");
  if (status.ok()) {
    auto result = session->Finish();
    if (result.ok()) {
      *response = std::move(*result);
      if (!response->already_stored()) put_bytes_.Increment(static_cast<double>(received));
      ObservePutStages(timings);
    }
    status = result.status();
  }
  session.reset();  // an unfinished put waits for its writes and destroys its key here
  admitted->Release();
  put_latency_.Observe(SecondsSince(start));
  MV_COUNT("PutInstance", status);
  return ToGrpcStatus(status);
}

grpc::Status ImageStoreService::GetInstance(grpc::ServerContext* ctx,
                                            const v1::GetInstanceRequest* request,
                                            grpc::ServerWriter<v1::GetInstanceResponse>* writer) {
  MV_AUTHORIZE("GetInstance");
  absl::StatusOr<SlotPool::Lease> admitted = AdmitTransfer("GetInstance");
  if (!admitted.ok()) return ToGrpcStatus(admitted.status());
  auto start = std::chrono::steady_clock::now();
  // The instance info rides on the first message that carries data (or alone, for an empty range).
  std::optional<v1::InstanceInfo> unsent_info;
  GetTimings timings;
  absl::Status status = core_->Get(
      *request,
      [&](const v1::InstanceInfo* info, uint64_t offset, absl::string_view data) -> absl::Status {
        if (info != nullptr) unsent_info = *info;
        return WritePieces(writer, &unsent_info, offset, data, get_bytes_);
      },
      who->ToString(), /*peer=*/"", &timings);
  if (status.ok() && unsent_info) {
    v1::GetInstanceResponse msg;
    *msg.mutable_info() = std::move(*unsent_info);
    msg.set_offset(request->offset());
    if (!writer->Write(msg)) status = absl::CancelledError("client went away");
  }
  admitted->Release();
  if (status.ok()) ObserveGetStages(timings);
  get_latency_.Observe(SecondsSince(start));
  MV_COUNT("GetInstance", status);
  return ToGrpcStatus(status);
}

grpc::Status ImageStoreService::RetrieveStudy(
    grpc::ServerContext* ctx, const v1::RetrieveStudyRequest* request,
    grpc::ServerWriter<v1::RetrieveStudyResponse>* writer) {
  MV_AUTHORIZE("RetrieveStudy");
  absl::StatusOr<SlotPool::Lease> admitted = AdmitTransfer("RetrieveStudy");
  if (!admitted.ok()) return ToGrpcStatus(admitted.status());
  // Each instance's info rides on its first message that carries data (or alone when empty).
  std::optional<v1::InstanceInfo> unsent_info;
  auto flush_info = [&]() -> absl::Status {
    if (!unsent_info) return absl::OkStatus();
    v1::RetrieveStudyResponse msg;
    *msg.mutable_info() = std::move(*unsent_info);
    unsent_info.reset();
    if (!writer->Write(msg)) return absl::CancelledError("client went away");
    return absl::OkStatus();
  };
  absl::Status status = core_->RetrieveStudy(
      *request,
      [&](const v1::InstanceInfo* info, uint64_t offset, absl::string_view data) -> absl::Status {
        if (info != nullptr) {
          if (absl::Status s = flush_info(); !s.ok()) return s;  // an empty instance before
          unsent_info = *info;
        }
        return WritePieces(writer, &unsent_info, offset, data, get_bytes_);
      },
      who->ToString());
  if (status.ok()) status = flush_info();
  admitted->Release();
  MV_COUNT("RetrieveStudy", status);
  return ToGrpcStatus(status);
}

// The remaining calls are one core call each.
#define MV_UNARY(Method, call)                     \
  auto result = (call);                            \
  if (result.ok()) *response = std::move(*result); \
  MV_COUNT(#Method, result.status());              \
  return ToGrpcStatus(result.status())

grpc::Status ImageStoreService::FindStudies(grpc::ServerContext* ctx,
                                            const v1::FindStudiesRequest* request,
                                            v1::FindStudiesResponse* response) {
  MV_AUTHORIZE("FindStudies");
  MV_UNARY(FindStudies, core_->FindStudies(*request));
}

grpc::Status ImageStoreService::FindSeries(grpc::ServerContext* ctx,
                                           const v1::FindSeriesRequest* request,
                                           v1::FindSeriesResponse* response) {
  MV_AUTHORIZE("FindSeries");
  MV_UNARY(FindSeries, core_->FindSeries(*request));
}

grpc::Status ImageStoreService::FindInstances(grpc::ServerContext* ctx,
                                              const v1::FindInstancesRequest* request,
                                              v1::FindInstancesResponse* response) {
  MV_AUTHORIZE("FindInstances");
  MV_UNARY(FindInstances, core_->FindInstances(*request));
}

grpc::Status ImageStoreService::SetRetention(grpc::ServerContext* ctx,
                                             const v1::SetRetentionRequest* request,
                                             v1::RetentionResponse* response) {
  MV_AUTHORIZE("SetRetention");
  MV_UNARY(SetRetention, core_->SetRetention(*request, who->ToString()));
}

grpc::Status ImageStoreService::SetLegalHold(grpc::ServerContext* ctx,
                                             const v1::SetLegalHoldRequest* request,
                                             v1::RetentionResponse* response) {
  MV_AUTHORIZE("SetLegalHold");
  MV_UNARY(SetLegalHold, core_->SetLegalHold(*request, who->ToString()));
}

grpc::Status ImageStoreService::GetStudy(grpc::ServerContext* ctx,
                                         const v1::GetStudyRequest* request,
                                         v1::GetStudyResponse* response) {
  MV_AUTHORIZE("GetStudy");
  MV_UNARY(GetStudy, core_->GetStudy(*request));
}

grpc::Status ImageStoreService::DeleteStudy(grpc::ServerContext* ctx,
                                            const v1::DeleteStudyRequest* request,
                                            v1::DeleteStudyResponse* response) {
  MV_AUTHORIZE("DeleteStudy");
  MV_UNARY(DeleteStudy, core_->DeleteStudy(*request, who->ToString()));
}

grpc::Status ImageStoreService::DeleteInstance(grpc::ServerContext* ctx,
                                               const v1::DeleteInstanceRequest* request,
                                               v1::DeleteInstanceResponse* response) {
  MV_AUTHORIZE("DeleteInstance");
  MV_UNARY(DeleteInstance, core_->DeleteInstance(*request, who->ToString()));
}

}  // namespace medvault::frontend
