#include "frontend/service/image_store_service.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/rpc.h"

namespace medvault::frontend {
namespace {

// Largest data field of one GetInstance message.
constexpr size_t kMaxResponsePiece = 1 << 20;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const char* CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "OK";
    case absl::StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case absl::StatusCode::kNotFound: return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case absl::StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kUnavailable: return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss: return "DATA_LOSS";
    case absl::StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case absl::StatusCode::kCancelled: return "CANCELLED";
    case absl::StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case absl::StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    default: return "OTHER";
  }
}

}  // namespace

AccessPolicy FrontendPolicy(ClientScopes scopes) {
  AccessPolicy policy;
  policy.AllowScope("PutInstance", Scope::kWrite)
      .AllowScope("GetInstance", Scope::kRead)
      .AllowScope("FindStudies", Scope::kRead)
      .AllowScope("GetStudy", Scope::kRead)
      .AllowScope("DeleteStudy", Scope::kDelete)
      .AllowScope("DeleteInstance", Scope::kDelete);
  for (const char* method :
       {"QueryAudit", "GetKekStatus", "RotateKek", "RetireKek", "ListChunkServers", "DrainChunkServer"}) {
    policy.AllowScope(method, Scope::kAdmin);
  }
  policy.set_client_scopes(std::move(scopes));
  return policy;
}

ImageStoreService::ImageStoreService(ImageStoreCore* core, Authorizer* authz, prometheus::Registry& registry,
                                     uint64_t max_instance_bytes)
    : core_(core),
      authz_(authz),
      max_instance_bytes_(max_instance_bytes),
      requests_(prometheus::BuildCounter()
                    .Name("medvault_frontend_requests_total")
                    .Help("ImageStore calls by method and result code")
                    .Register(registry)),
      put_bytes_(NewCounter(registry, "medvault_frontend_put_bytes_total", "Instance bytes stored by PutInstance")),
      get_bytes_(NewCounter(registry, "medvault_frontend_get_bytes_total", "Instance bytes returned by GetInstance")),
      put_latency_(NewLatencyHistogram(registry, "medvault_frontend_put_latency_seconds",
                                       "PutInstance latency from first byte received to acknowledgement")),
      get_latency_(NewLatencyHistogram(registry, "medvault_frontend_get_latency_seconds", "GetInstance latency")),
      put_stages_(prometheus::BuildHistogram()
                      .Name("medvault_frontend_put_stage_seconds")
                      .Help("Time successful PutInstance calls spent per stage (parse, lookup, key, place, "
                            "seal, write, commit)")
                      .Register(registry)) {
  for (const char* stage : {"parse", "lookup", "key", "place", "seal", "write", "commit"}) {
    put_stage_series_.push_back(&put_stages_.Add({{"stage", stage}}, LatencyBuckets()));
  }
}

#define MV_COUNT(method, status) requests_.Add({{"method", method}, {"code", CodeName((status).code())}}).Increment()

// Authorises the call or returns its refusal (counted like any other result).
#define MV_AUTHORIZE(method)                                        \
  absl::StatusOr<PeerIdentity> who = authz_->Authorize(*ctx, method); \
  if (!who.ok()) {                                                  \
    MV_COUNT(method, who.status());                                 \
    return ToGrpcStatus(who.status());                              \
  }

void ImageStoreService::ObservePutStages(const PutTimings& t) {
  const double values[] = {t.parse, t.lookup, t.key, t.place, t.seal, t.write, t.commit};
  for (size_t i = 0; i < put_stage_series_.size(); ++i) put_stage_series_[i]->Observe(values[i]);
}

grpc::Status ImageStoreService::PutInstance(grpc::ServerContext* ctx,
                                            grpc::ServerReader<v1::PutInstanceRequest>* reader,
                                            v1::PutInstanceResponse* response) {
  MV_AUTHORIZE("PutInstance");
  auto start = std::chrono::steady_clock::now();
  std::string bytes;
  v1::PutInstanceRequest piece;
  absl::Status status;
  while (reader->Read(&piece)) {
    if (bytes.size() + piece.data().size() > max_instance_bytes_) {
      status = absl::ResourceExhaustedError(absl::StrCat("instance exceeds the ", max_instance_bytes_, "-byte limit"));
      break;
    }
    bytes.append(piece.data());
  }
  if (status.ok() && ctx->IsCancelled()) status = absl::CancelledError("client cancelled the upload");
  if (status.ok()) {
    PutTimings timings;
    auto result = core_->Put(bytes, &timings);
    if (result.ok()) {
      *response = std::move(*result);
      if (!response->already_stored()) put_bytes_.Increment(static_cast<double>(bytes.size()));
      ObservePutStages(timings);
    }
    status = result.status();
  }
  put_latency_.Observe(SecondsSince(start));
  MV_COUNT("PutInstance", status);
  return ToGrpcStatus(status);
}

grpc::Status ImageStoreService::GetInstance(grpc::ServerContext* ctx, const v1::GetInstanceRequest* request,
                                            grpc::ServerWriter<v1::GetInstanceResponse>* writer) {
  MV_AUTHORIZE("GetInstance");
  auto start = std::chrono::steady_clock::now();
  // The instance info rides on the first message that carries data (or alone, for an empty range).
  std::optional<v1::InstanceInfo> unsent_info;
  absl::Status status = core_->Get(*request, [&](const v1::InstanceInfo* info, uint64_t offset,
                                                 absl::string_view data) -> absl::Status {
    if (info != nullptr) unsent_info = *info;
    while (!data.empty()) {
      v1::GetInstanceResponse msg;
      if (unsent_info) {
        *msg.mutable_info() = std::move(*unsent_info);
        unsent_info.reset();
      }
      absl::string_view piece = data.substr(0, kMaxResponsePiece);
      msg.set_offset(offset);
      msg.set_data(piece.data(), piece.size());
      if (!writer->Write(msg)) return absl::CancelledError("client went away");
      get_bytes_.Increment(static_cast<double>(piece.size()));
      data.remove_prefix(piece.size());
      offset += piece.size();
    }
    return absl::OkStatus();
  }, who->ToString());
  if (status.ok() && unsent_info) {
    v1::GetInstanceResponse msg;
    *msg.mutable_info() = std::move(*unsent_info);
    msg.set_offset(request->offset());
    if (!writer->Write(msg)) status = absl::CancelledError("client went away");
  }
  get_latency_.Observe(SecondsSince(start));
  MV_COUNT("GetInstance", status);
  return ToGrpcStatus(status);
}

// The remaining calls are one core call each.
#define MV_UNARY(Method, call)                 \
  auto result = (call);                        \
  if (result.ok()) *response = std::move(*result); \
  MV_COUNT(#Method, result.status());          \
  return ToGrpcStatus(result.status())

grpc::Status ImageStoreService::FindStudies(grpc::ServerContext* ctx, const v1::FindStudiesRequest* request,
                                            v1::FindStudiesResponse* response) {
  MV_AUTHORIZE("FindStudies");
  MV_UNARY(FindStudies, core_->FindStudies(*request));
}

grpc::Status ImageStoreService::GetStudy(grpc::ServerContext* ctx, const v1::GetStudyRequest* request,
                                         v1::GetStudyResponse* response) {
  MV_AUTHORIZE("GetStudy");
  MV_UNARY(GetStudy, core_->GetStudy(*request));
}

grpc::Status ImageStoreService::DeleteStudy(grpc::ServerContext* ctx, const v1::DeleteStudyRequest* request,
                                            v1::DeleteStudyResponse* response) {
  MV_AUTHORIZE("DeleteStudy");
  MV_UNARY(DeleteStudy, core_->DeleteStudy(*request, who->ToString()));
}

grpc::Status ImageStoreService::DeleteInstance(grpc::ServerContext* ctx, const v1::DeleteInstanceRequest* request,
                                               v1::DeleteInstanceResponse* response) {
  MV_AUTHORIZE("DeleteInstance");
  MV_UNARY(DeleteInstance, core_->DeleteInstance(*request, who->ToString()));
}

}  // namespace medvault::frontend
