#include "frontend/service/grpc_clients.h"

#include <chrono>
#include <condition_variable>

#include "common/rpc.h"

namespace medvault::frontend {
namespace {

constexpr auto kMetaDeadline = std::chrono::seconds(30);
constexpr auto kKeyDeadline = std::chrono::seconds(10);
constexpr auto kChunkDeadline = std::chrono::seconds(60);

void SetDeadline(grpc::ClientContext* ctx, std::chrono::seconds d) {
  ctx->set_deadline(std::chrono::system_clock::now() + d);
}

// Runs one unary call on the group's leader (following redirects) within `budget`.
template <typename Service, typename Req, typename Resp, typename Call>
absl::StatusOr<Resp> Unary(GroupChannels* group, Call call, const Req& req, std::chrono::seconds budget) {
  Resp resp;
  absl::Status s = group->Call(
      [&](const std::shared_ptr<grpc::Channel>& channel, std::chrono::system_clock::time_point deadline) {
        auto stub = Service::NewStub(channel);
        grpc::ClientContext ctx;
        ctx.set_deadline(deadline);
        resp.Clear();
        return FromGrpcStatus(call(stub.get(), &ctx, req, &resp));
      },
      budget);
  if (!s.ok()) return s;
  // Moved (implicitly, on return), not copied: a copy of a key service response would leave key
  // bytes behind unwiped.
  return resp;
}

}  // namespace

GrpcKeyClient::GrpcKeyClient(const std::vector<std::string>& addresses, const TransportSecurity& security)
    : group_(addresses, [&security](const std::string& a) { return MakeChannel(a, security, kKeyServicePeer); }) {}

static void SetAudit(const KeyAudit& audit, v1::AuditContext* out) {
  out->set_on_behalf_of(audit.on_behalf_of);
  out->set_purpose(audit.purpose);
}

absl::StatusOr<std::vector<DataKeyMaterial>> GrpcKeyClient::GenerateDataKeys(uint32_t count, const KeyAudit& audit) {
  v1::GenerateDataKeysRequest req;
  req.set_count(count);
  SetAudit(audit, req.mutable_audit());
  auto resp = Unary<v1::KeyService, v1::GenerateDataKeysRequest, v1::GenerateDataKeysResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GenerateDataKeys(c, r, o); }, req, kKeyDeadline);
  if (!resp.ok()) return resp.status();
  std::vector<DataKeyMaterial> keys;
  for (auto& k : *resp->mutable_keys()) {
    if (k.object_id().size() != 16 || k.key().size() != kAesKeyBytes) {
      WipeString(k.mutable_key());
      return absl::InternalError("key service returned a malformed key");
    }
    keys.push_back(DataKeyMaterial{k.object_id(), SecretBytes(std::move(*k.mutable_key()))});
    WipeString(k.mutable_key());
  }
  return keys;
}

absl::StatusOr<SecretBytes> GrpcKeyClient::GetDataKey(absl::string_view object_id, const KeyAudit& audit) {
  v1::GetDataKeyRequest req;
  req.set_object_id(std::string(object_id));
  SetAudit(audit, req.mutable_audit());
  auto resp = Unary<v1::KeyService, v1::GetDataKeyRequest, v1::GetDataKeyResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GetDataKey(c, r, o); }, req, kKeyDeadline);
  if (!resp.ok()) return resp.status();
  SecretBytes key(std::move(*resp->mutable_key()->mutable_key()));
  WipeString(resp->mutable_key()->mutable_key());
  if (key.size() != kAesKeyBytes) return absl::InternalError("key service returned a malformed key");
  return key;
}

absl::Status GrpcKeyClient::DestroyDataKeys(const std::vector<std::string>& object_ids, const KeyAudit& audit) {
  v1::DestroyDataKeysRequest req;
  for (const auto& id : object_ids) req.add_object_ids(id);
  SetAudit(audit, req.mutable_audit());
  return Unary<v1::KeyService, v1::DestroyDataKeysRequest, v1::DestroyDataKeysResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->DestroyDataKeys(c, r, o); }, req, kKeyDeadline)
      .status();
}

absl::StatusOr<v1::QueryAuditResponse> GrpcKeyClient::QueryAudit(const v1::QueryAuditRequest& req) {
  return Unary<v1::KeyService, v1::QueryAuditRequest, v1::QueryAuditResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->QueryAudit(c, r, o); }, req, kKeyDeadline);
}

absl::Status GrpcKeyClient::RecordDenial(const std::string& client, absl::string_view method,
                                         const absl::Status& why) {
  v1::RecordDenialRequest req;
  req.mutable_audit()->set_on_behalf_of(client);
  req.mutable_audit()->set_purpose(std::string(method));
  req.set_result(absl::StatusCodeToString(why.code()));
  return Unary<v1::KeyService, v1::RecordDenialRequest, v1::RecordDenialResponse>(
             &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RecordDenial(c, r, o); }, req,
             std::chrono::seconds(2))
      .status();
}

absl::StatusOr<v1::GetKekStatusResponse> GrpcKeyClient::GetKekStatus() {
  // A census scans every stored key: give it longer than a key call.
  return Unary<v1::KeyService, v1::GetKekStatusRequest, v1::GetKekStatusResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GetKekStatus(c, r, o); },
      v1::GetKekStatusRequest(), kMetaDeadline);
}

absl::StatusOr<v1::RotateKekResponse> GrpcKeyClient::RotateKek(const v1::RotateKekRequest& req) {
  return Unary<v1::KeyService, v1::RotateKekRequest, v1::RotateKekResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RotateKek(c, r, o); }, req, kMetaDeadline);
}

absl::Status GrpcKeyClient::RetireKek(const v1::RetireKekRequest& req) {
  return Unary<v1::KeyService, v1::RetireKekRequest, v1::RetireKekResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RetireKek(c, r, o); }, req, kMetaDeadline)
      .status();
}

GrpcMetaClient::GrpcMetaClient(const std::vector<std::string>& addresses, const TransportSecurity& security)
    : group_(addresses, [&security](const std::string& a) { return MakeChannel(a, security, kMetaServerPeer); }) {}

#define MV_META_CALL(Method, Req, Resp, req) \
  Unary<v1::MetaService, Req, Resp>(                                                              \
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->Method(c, r, o); }, req, kMetaDeadline)

absl::StatusOr<v1::AllocateChunksResponse> GrpcMetaClient::AllocateChunks(uint32_t chunk_count, uint32_t replicas,
                                                                          const std::string& sop_instance_uid) {
  v1::AllocateChunksRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  req.set_chunk_count(chunk_count);
  req.set_replicas(replicas);
  return MV_META_CALL(AllocateChunks, v1::AllocateChunksRequest, v1::AllocateChunksResponse, req);
}

absl::StatusOr<v1::CommitInstanceResponse> GrpcMetaClient::CommitInstance(const v1::CommitInstanceRequest& req) {
  return MV_META_CALL(CommitInstance, v1::CommitInstanceRequest, v1::CommitInstanceResponse, req);
}

absl::StatusOr<v1::GetInstanceMetaResponse> GrpcMetaClient::GetInstance(const std::string& sop_instance_uid) {
  v1::GetInstanceMetaRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  return MV_META_CALL(GetInstance, v1::GetInstanceMetaRequest, v1::GetInstanceMetaResponse, req);
}

absl::StatusOr<v1::FindStudiesMetaResponse> GrpcMetaClient::FindStudies(const v1::StudyQuery& query) {
  v1::FindStudiesMetaRequest req;
  *req.mutable_query() = query;
  return MV_META_CALL(FindStudies, v1::FindStudiesMetaRequest, v1::FindStudiesMetaResponse, req);
}

absl::StatusOr<v1::GetStudyMetaResponse> GrpcMetaClient::GetStudy(const std::string& study_uid) {
  v1::GetStudyMetaRequest req;
  req.set_study_uid(study_uid);
  return MV_META_CALL(GetStudy, v1::GetStudyMetaRequest, v1::GetStudyMetaResponse, req);
}

absl::StatusOr<v1::DeleteMetaResponse> GrpcMetaClient::DeleteStudy(const std::string& study_uid) {
  v1::DeleteStudyMetaRequest req;
  req.set_study_uid(study_uid);
  return MV_META_CALL(DeleteStudy, v1::DeleteStudyMetaRequest, v1::DeleteMetaResponse, req);
}

absl::StatusOr<v1::DeleteMetaResponse> GrpcMetaClient::DeleteInstance(const std::string& sop_instance_uid) {
  v1::DeleteInstanceMetaRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  return MV_META_CALL(DeleteInstance, v1::DeleteInstanceMetaRequest, v1::DeleteMetaResponse, req);
}

absl::Status GrpcMetaClient::ConfirmKeysDestroyed(const std::vector<std::string>& object_ids) {
  v1::ConfirmKeysDestroyedRequest req;
  for (const auto& id : object_ids) req.add_object_ids(id);
  return MV_META_CALL(ConfirmKeysDestroyed, v1::ConfirmKeysDestroyedRequest, v1::ConfirmKeysDestroyedResponse, req)
      .status();
}

absl::Status GrpcMetaClient::ReportBadReplica(const std::string& chunk_id, const std::string& server_id) {
  v1::ReportBadReplicaRequest req;
  req.set_chunk_id(chunk_id);
  req.set_server_id(server_id);
  return MV_META_CALL(ReportBadReplica, v1::ReportBadReplicaRequest, v1::ReportBadReplicaResponse, req).status();
}

absl::StatusOr<v1::ListChunkServersResponse> GrpcMetaClient::ListChunkServers() {
  return MV_META_CALL(ListChunkServers, v1::ListChunkServersRequest, v1::ListChunkServersResponse,
                      v1::ListChunkServersRequest());
}

absl::Status GrpcMetaClient::DrainChunkServer(const v1::DrainChunkServerRequest& request) {
  return MV_META_CALL(DrainChunkServer, v1::DrainChunkServerRequest, v1::DrainChunkServerResponse, request).status();
}

#undef MV_META_CALL

v1::ChunkService::Stub* GrpcChunkClient::StubFor(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = v1::ChunkService::NewStub(MakeChannel(address, security_, kChunkServerPeer));
  return stub.get();
}

std::vector<absl::Status> GrpcChunkClient::WriteChunks(const std::vector<ChunkWrite>& writes) {
  struct Call {
    grpc::ClientContext ctx;
    std::shared_ptr<const v1::WriteChunkRequest> req;
    v1::WriteChunkResponse resp;
  };
  std::vector<absl::Status> results(writes.size());
  std::vector<std::unique_ptr<Call>> calls(writes.size());
  // The replicas of one chunk share one request: the ciphertext is copied into a message once,
  // not once per replica.
  std::shared_ptr<v1::WriteChunkRequest> shared;
  absl::string_view shared_source;  // the bytes `shared` was made from
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  size_t done = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < max_in_flight_; });
      ++in_flight;
    }
    auto call = std::make_unique<Call>();
    SetDeadline(&call->ctx, kChunkDeadline);
    const bool same_chunk = shared != nullptr && shared->chunk_id() == writes[i].chunk_id &&
                            shared->crc32c() == writes[i].crc32c && shared_source.data() == writes[i].data.data() &&
                            shared_source.size() == writes[i].data.size();
    if (!same_chunk) {
      shared_source = writes[i].data;
      shared = std::make_shared<v1::WriteChunkRequest>();
      shared->set_chunk_id(writes[i].chunk_id);
      shared->set_data(writes[i].data.data(), writes[i].data.size());
      shared->set_crc32c(writes[i].crc32c);
    }
    call->req = shared;
    Call* c = call.get();
    calls[i] = std::move(call);
    StubFor(writes[i].address)->async()->WriteChunk(&c->ctx, c->req.get(), &c->resp, [&, i](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      results[i] = FromGrpcStatus(s);
      --in_flight;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done == writes.size(); });
  return results;
}

absl::StatusOr<ChunkRead> GrpcChunkClient::ReadChunk(const std::string& address, const std::string& chunk_id) {
  v1::ReadChunkRequest req;
  req.set_chunk_id(chunk_id);
  v1::ChunkService::Stub* stub = StubFor(address);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kChunkDeadline);
  v1::ReadChunkResponse resp;
  grpc::Status s = stub->ReadChunk(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return ChunkRead{std::move(*resp.mutable_data()), resp.crc32c()};
}

namespace {

// One asynchronous ReadChunk: owned by the gRPC callback and by the caller's handle.
struct AsyncRead {
  grpc::ClientContext ctx;
  v1::ReadChunkRequest req;
  v1::ReadChunkResponse resp;
  ChunkClient::ReadDone done;
};

class GrpcPendingRead final : public PendingRead {
 public:
  explicit GrpcPendingRead(std::shared_ptr<AsyncRead> call) : call_(std::move(call)) {}
  void Cancel() override { call_->ctx.TryCancel(); }

 private:
  std::shared_ptr<AsyncRead> call_;
};

}  // namespace

std::unique_ptr<PendingRead> GrpcChunkClient::StartRead(const std::string& address, const std::string& chunk_id,
                                                        ReadDone done) {
  auto call = std::make_shared<AsyncRead>();
  call->req.set_chunk_id(chunk_id);
  call->ctx.set_deadline(std::chrono::system_clock::now() + kChunkDeadline);
  call->done = std::move(done);
  StubFor(address)->async()->ReadChunk(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
    if (!s.ok()) {
      call->done(FromGrpcStatus(s));
    } else {
      call->done(ChunkRead{std::move(*call->resp.mutable_data()), call->resp.crc32c()});
    }
  });
  return std::make_unique<GrpcPendingRead>(call);
}

}  // namespace medvault::frontend
