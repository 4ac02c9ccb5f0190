#include "frontend/service/grpc_clients.h"

#include <chrono>
#include <condition_variable>

#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

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
absl::StatusOr<Resp> Unary(GroupChannels* group, Call call, const Req& req,
                           std::chrono::seconds budget) {
  Resp resp;
  absl::Status s = group->Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point deadline) {
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

GrpcKeyClient::GrpcKeyClient(const std::vector<std::string>& addresses,
                             const TransportSecurity& security)
    : group_(addresses, [&security](const std::string& a) {
        return MakeChannel(a, security, kKeyServicePeer);
      }) {}

static void SetAudit(const KeyAudit& audit, v1::AuditContext* out) {
  out->set_on_behalf_of(audit.on_behalf_of);
  out->set_purpose(audit.purpose);
  out->set_peer(audit.peer);
}

absl::StatusOr<std::vector<DataKeyMaterial>> GrpcKeyClient::GenerateDataKeys(
    uint32_t count, const KeyAudit& audit) {
  v1::GenerateDataKeysRequest req;
  req.set_count(count);
  SetAudit(audit, req.mutable_audit());
  auto resp = Unary<v1::KeyService, v1::GenerateDataKeysRequest, v1::GenerateDataKeysResponse>(
      &group_,
      [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GenerateDataKeys(c, r, o); }, req,
      kKeyDeadline);
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

absl::StatusOr<SecretBytes> GrpcKeyClient::GetDataKey(absl::string_view object_id,
                                                      const KeyAudit& audit) {
  v1::GetDataKeyRequest req;
  req.set_object_id(std::string(object_id));
  SetAudit(audit, req.mutable_audit());
  auto resp = Unary<v1::KeyService, v1::GetDataKeyRequest, v1::GetDataKeyResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GetDataKey(c, r, o); },
      req, kKeyDeadline);
  if (!resp.ok()) return resp.status();
  SecretBytes key(std::move(*resp->mutable_key()->mutable_key()));
  WipeString(resp->mutable_key()->mutable_key());
  if (key.size() != kAesKeyBytes)
    return absl::InternalError("key service returned a malformed key");
  return key;
}

absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GrpcKeyClient::GetDataKeys(
    const std::vector<std::string>& object_ids, const KeyAudit& audit) {
  v1::GetDataKeysRequest req;
  for (const auto& id : object_ids) req.add_object_ids(id);
  SetAudit(audit, req.mutable_audit());
  auto resp = Unary<v1::KeyService, v1::GetDataKeysRequest, v1::GetDataKeysResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->GetDataKeys(c, r, o); },
      req, kKeyDeadline);
  if (!resp.ok()) return resp.status();
  std::vector<absl::StatusOr<SecretBytes>> keys;
  bool malformed = resp->keys_size() != static_cast<int>(object_ids.size());
  for (int i = 0; i < resp->keys_size(); ++i) {
    v1::ReleasedDataKey& k = *resp->mutable_keys(i);
    std::string* bytes = k.mutable_key()->mutable_key();
    if (malformed) {
      WipeString(bytes);
      continue;
    }
    if (!k.refused().empty()) {
      absl::StatusCode code = absl::StatusCode::kNotFound;
      if (k.refused() == "FAILED_PRECONDITION") code = absl::StatusCode::kFailedPrecondition;
      if (k.refused() == "DATA_LOSS") code = absl::StatusCode::kDataLoss;
      keys.push_back(absl::Status(code, absl::StrCat("the key service refused the data key of "
                                                     "object ",
                                                     ToHex(object_ids[i]), ": ", k.refused())));
      continue;
    }
    malformed |= k.key().object_id() != object_ids[i] || bytes->size() != kAesKeyBytes;
    keys.push_back(SecretBytes(std::move(*bytes)));
    WipeString(bytes);
  }
  if (malformed) return absl::InternalError("key service returned a malformed key set");
  return keys;
}

absl::Status GrpcKeyClient::DestroyDataKeys(const std::vector<std::string>& object_ids,
                                            const KeyAudit& audit) {
  v1::DestroyDataKeysRequest req;
  for (const auto& id : object_ids) req.add_object_ids(id);
  SetAudit(audit, req.mutable_audit());
  return Unary<v1::KeyService, v1::DestroyDataKeysRequest, v1::DestroyDataKeysResponse>(
             &group_,
             [&](auto* stub, auto* c, auto& r, auto* o) { return stub->DestroyDataKeys(c, r, o); },
             req, kKeyDeadline)
      .status();
}

absl::StatusOr<v1::QueryAuditResponse> GrpcKeyClient::QueryAudit(const v1::QueryAuditRequest& req) {
  return Unary<v1::KeyService, v1::QueryAuditRequest, v1::QueryAuditResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->QueryAudit(c, r, o); },
      req, kKeyDeadline);
}

absl::Status GrpcKeyClient::RecordDenial(const std::string& client, absl::string_view method,
                                         const absl::Status& why) {
  v1::RecordDenialRequest req;
  req.mutable_audit()->set_on_behalf_of(client);
  req.mutable_audit()->set_purpose(std::string(method));
  req.set_result(absl::StatusCodeToString(why.code()));
  return Unary<v1::KeyService, v1::RecordDenialRequest, v1::RecordDenialResponse>(
             &group_,
             [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RecordDenial(c, r, o); },
             req, std::chrono::seconds(2))
      .status();
}

absl::Status GrpcKeyClient::RecordShareEvent(const std::string& on_behalf_of,
                                             const std::string& purpose, const std::string& peer,
                                             absl::StatusCode result) {
  v1::RecordShareEventRequest req;
  req.mutable_audit()->set_on_behalf_of(on_behalf_of);
  req.mutable_audit()->set_purpose(purpose);
  req.mutable_audit()->set_peer(peer);
  req.set_result(absl::StatusCodeToString(result));
  return Unary<v1::KeyService, v1::RecordShareEventRequest, v1::RecordShareEventResponse>(
             &group_,
             [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RecordShareEvent(c, r, o); },
             req, std::chrono::seconds(2))
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
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RotateKek(c, r, o); }, req,
      kMetaDeadline);
}

// Verification walks the whole log on the key service: allow it longer than a key call.
absl::StatusOr<v1::VerifyAuditResponse> GrpcKeyClient::VerifyAudit(
    const v1::VerifyAuditRequest& req) {
  return Unary<v1::KeyService, v1::VerifyAuditRequest, v1::VerifyAuditResponse>(
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->VerifyAudit(c, r, o); },
      req, std::chrono::seconds(300));
}

absl::Status GrpcKeyClient::RetireKek(const v1::RetireKekRequest& req) {
  return Unary<v1::KeyService, v1::RetireKekRequest, v1::RetireKekResponse>(
             &group_,
             [&](auto* stub, auto* c, auto& r, auto* o) { return stub->RetireKek(c, r, o); }, req,
             kMetaDeadline)
      .status();
}

GrpcMetaClient::GrpcMetaClient(const std::vector<std::string>& addresses,
                               const TransportSecurity& security)
    : group_(addresses, [&security](const std::string& a) {
        return MakeChannel(a, security, kMetaServerPeer);
      }) {}

#define MV_META_CALL(Method, Req, Resp, req)                                                      \
  Unary<v1::MetaService, Req, Resp>(                                                              \
      &group_, [&](auto* stub, auto* c, auto& r, auto* o) { return stub->Method(c, r, o); }, req, \
      kMetaDeadline)

absl::StatusOr<v1::AllocateChunksResponse> GrpcMetaClient::AllocateChunks(
    uint32_t chunk_count, uint32_t replicas, const std::string& sop_instance_uid,
    const std::vector<std::string>& exclude_server_ids) {
  v1::AllocateChunksRequest req;
  for (const std::string& id : exclude_server_ids) req.add_exclude_server_ids(id);
  req.set_sop_instance_uid(sop_instance_uid);
  req.set_chunk_count(chunk_count);
  req.set_replicas(replicas);
  return MV_META_CALL(AllocateChunks, v1::AllocateChunksRequest, v1::AllocateChunksResponse, req);
}

absl::StatusOr<v1::CommitInstanceResponse> GrpcMetaClient::CommitInstance(
    const v1::CommitInstanceRequest& req) {
  return MV_META_CALL(CommitInstance, v1::CommitInstanceRequest, v1::CommitInstanceResponse, req);
}

absl::StatusOr<v1::GetInstanceMetaResponse> GrpcMetaClient::GetInstance(
    const std::string& sop_instance_uid) {
  v1::GetInstanceMetaRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  return MV_META_CALL(GetInstance, v1::GetInstanceMetaRequest, v1::GetInstanceMetaResponse, req);
}

absl::StatusOr<v1::FindStudiesMetaResponse> GrpcMetaClient::FindStudies(
    const v1::StudyQuery& query) {
  v1::FindStudiesMetaRequest req;
  *req.mutable_query() = query;
  return MV_META_CALL(FindStudies, v1::FindStudiesMetaRequest, v1::FindStudiesMetaResponse, req);
}

absl::StatusOr<v1::FindSeriesMetaResponse> GrpcMetaClient::FindSeries(const v1::LevelQuery& query) {
  v1::FindSeriesMetaRequest req;
  *req.mutable_query() = query;
  return MV_META_CALL(FindSeries, v1::FindSeriesMetaRequest, v1::FindSeriesMetaResponse, req);
}

absl::StatusOr<v1::FindInstancesMetaResponse> GrpcMetaClient::FindInstances(
    const v1::LevelQuery& query) {
  v1::FindInstancesMetaRequest req;
  *req.mutable_query() = query;
  return MV_META_CALL(FindInstances, v1::FindInstancesMetaRequest, v1::FindInstancesMetaResponse,
                      req);
}

absl::StatusOr<v1::GetInstanceHeadersResponse> GrpcMetaClient::GetInstanceHeaders(
    const v1::GetInstanceHeadersRequest& req) {
  return MV_META_CALL(GetInstanceHeaders, v1::GetInstanceHeadersRequest,
                      v1::GetInstanceHeadersResponse, req);
}

absl::StatusOr<v1::RetentionMetaResponse> GrpcMetaClient::SetRetention(
    const v1::SetRetentionMetaRequest& req) {
  return MV_META_CALL(SetRetention, v1::SetRetentionMetaRequest, v1::RetentionMetaResponse, req);
}

absl::StatusOr<v1::RetentionMetaResponse> GrpcMetaClient::SetLegalHold(
    const v1::SetLegalHoldMetaRequest& req) {
  return MV_META_CALL(SetLegalHold, v1::SetLegalHoldMetaRequest, v1::RetentionMetaResponse, req);
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

absl::StatusOr<v1::DeleteMetaResponse> GrpcMetaClient::DeleteInstance(
    const std::string& sop_instance_uid) {
  v1::DeleteInstanceMetaRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  return MV_META_CALL(DeleteInstance, v1::DeleteInstanceMetaRequest, v1::DeleteMetaResponse, req);
}

absl::Status GrpcMetaClient::ConfirmKeysDestroyed(const std::vector<std::string>& object_ids) {
  v1::ConfirmKeysDestroyedRequest req;
  for (const auto& id : object_ids) req.add_object_ids(id);
  return MV_META_CALL(ConfirmKeysDestroyed, v1::ConfirmKeysDestroyedRequest,
                      v1::ConfirmKeysDestroyedResponse, req)
      .status();
}

absl::Status GrpcMetaClient::ReportBadReplica(const std::string& chunk_id,
                                              const std::string& server_id) {
  v1::ReportBadReplicaRequest req;
  req.set_chunk_id(chunk_id);
  req.set_server_id(server_id);
  return MV_META_CALL(ReportBadReplica, v1::ReportBadReplicaRequest, v1::ReportBadReplicaResponse,
                      req)
      .status();
}

absl::StatusOr<v1::ListChunkServersResponse> GrpcMetaClient::ListChunkServers() {
  return MV_META_CALL(ListChunkServers, v1::ListChunkServersRequest, v1::ListChunkServersResponse,
                      v1::ListChunkServersRequest());
}

absl::StatusOr<v1::StartScrubMetaResponse> GrpcMetaClient::StartScrub(
    const v1::StartScrubMetaRequest& request) {
  return MV_META_CALL(StartScrub, v1::StartScrubMetaRequest, v1::StartScrubMetaResponse, request);
}

absl::StatusOr<v1::GetScrubStatusMetaResponse> GrpcMetaClient::GetScrubStatus(
    const v1::GetScrubStatusMetaRequest& request) {
  return MV_META_CALL(GetScrubStatus, v1::GetScrubStatusMetaRequest, v1::GetScrubStatusMetaResponse,
                      request);
}

absl::Status GrpcMetaClient::DrainChunkServer(const v1::DrainChunkServerRequest& request) {
  return MV_META_CALL(DrainChunkServer, v1::DrainChunkServerRequest, v1::DrainChunkServerResponse,
                      request)
      .status();
}

absl::StatusOr<v1::CheckIndexResponse> GrpcMetaClient::CheckIndex(
    const v1::CheckIndexRequest& request) {
  return MV_META_CALL(CheckIndex, v1::CheckIndexRequest, v1::CheckIndexResponse, request);
}

absl::StatusOr<v1::StoredShare> GrpcMetaClient::CreateShare(const v1::StoredShare& share) {
  v1::CreateShareMetaRequest req;
  *req.mutable_share() = share;
  absl::StatusOr<v1::ShareMetaResponse> resp =
      MV_META_CALL(CreateShare, v1::CreateShareMetaRequest, v1::ShareMetaResponse, req);
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_share());
}

absl::StatusOr<std::vector<v1::ShareInfo>> GrpcMetaClient::ListShares() {
  absl::StatusOr<v1::ListSharesMetaResponse> resp =
      MV_META_CALL(ListShares, v1::ListSharesMetaRequest, v1::ListSharesMetaResponse,
                   v1::ListSharesMetaRequest());
  if (!resp.ok()) return resp.status();
  return std::vector<v1::ShareInfo>(resp->shares().begin(), resp->shares().end());
}

absl::StatusOr<v1::StoredShare> GrpcMetaClient::GetShare(const v1::ShareRef& ref) {
  absl::StatusOr<v1::ShareMetaResponse> resp =
      MV_META_CALL(GetShare, v1::ShareRef, v1::ShareMetaResponse, ref);
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_share());
}

absl::StatusOr<v1::StoredShare> GrpcMetaClient::RevokeShare(const v1::ShareRef& ref,
                                                            const std::string& actor) {
  v1::ShareActionMetaRequest req;
  *req.mutable_share() = ref;
  req.set_actor(actor);
  absl::StatusOr<v1::ShareMetaResponse> resp =
      MV_META_CALL(RevokeShare, v1::ShareActionMetaRequest, v1::ShareMetaResponse, req);
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_share());
}

absl::StatusOr<v1::StoredShare> GrpcMetaClient::UnlockShare(const v1::ShareRef& ref,
                                                            const std::string& actor) {
  v1::ShareActionMetaRequest req;
  *req.mutable_share() = ref;
  req.set_actor(actor);
  absl::StatusOr<v1::ShareMetaResponse> resp =
      MV_META_CALL(UnlockShare, v1::ShareActionMetaRequest, v1::ShareMetaResponse, req);
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_share());
}

absl::StatusOr<v1::RecordShareAccessResponse> GrpcMetaClient::RecordShareAccess(
    const v1::RecordShareAccessRequest& request) {
  return MV_META_CALL(RecordShareAccess, v1::RecordShareAccessRequest,
                      v1::RecordShareAccessResponse, request);
}

absl::StatusOr<std::vector<v1::ShareLogEntry>> GrpcMetaClient::GetShareLog(
    const v1::ShareRef& ref) {
  absl::StatusOr<v1::GetShareLogMetaResponse> resp =
      MV_META_CALL(GetShareLog, v1::ShareRef, v1::GetShareLogMetaResponse, ref);
  if (!resp.ok()) return resp.status();
  return std::vector<v1::ShareLogEntry>(resp->entries().begin(), resp->entries().end());
}

#undef MV_META_CALL

GrpcChunkClient::Stubs* GrpcChunkClient::StubsFor(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  Stubs& stubs = stubs_[address];
  if (!stubs.typed) {
    std::shared_ptr<grpc::Channel> channel = MakeChannel(address, security_, kChunkServerPeer);
    stubs.typed = v1::ChunkService::NewStub(channel);
    stubs.generic = std::make_unique<grpc::GenericStub>(channel);
  }
  return &stubs;
}

grpc::ByteBuffer SerializeWriteChunk(const ReplicatedChunkWrite& write) {
  using google::protobuf::internal::WireFormatLite;
  // Every field but the data, serialised by protobuf; then the data field's key and length; then
  // the data itself as a slice over the caller's buffer (field order is free on the wire).
  v1::WriteChunkRequest head;
  head.set_chunk_id(write.chunk_id);
  head.set_crc32c(write.crc32c);
  std::string prefix = head.SerializeAsString();
  uint8_t key[16];
  uint8_t* end = WireFormatLite::WriteTagToArray(v1::WriteChunkRequest::kDataFieldNumber,
                                                 WireFormatLite::WIRETYPE_LENGTH_DELIMITED, key);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(write.data->size()), end);
  prefix.append(reinterpret_cast<const char*>(key), static_cast<size_t>(end - key));
  auto* owner = new std::shared_ptr<const std::string>(write.data);
  grpc::Slice slices[2] = {
      grpc::Slice(prefix),
      grpc::Slice(
          const_cast<char*>(write.data->data()), write.data->size(),
          [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); }, owner)};
  return grpc::ByteBuffer(slices, write.data->empty() ? 1 : 2);
}

void GrpcChunkClient::StartWrite(const ReplicatedChunkWrite& write, WriteDone done) {
  struct Fanout {
    std::mutex mu;
    std::vector<absl::Status> results;
    size_t pending;
    WriteDone done;
  };
  struct Call {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  static const std::string kMethod =
      absl::StrCat("/", v1::ChunkService::service_full_name(), "/WriteChunk");
  auto fanout = std::make_shared<Fanout>();
  fanout->results.resize(write.addresses.size());
  fanout->pending = write.addresses.size();
  fanout->done = std::move(done);
  if (write.addresses.empty()) {
    fanout->done({});
    return;
  }
  const grpc::ByteBuffer request = SerializeWriteChunk(write);
  for (size_t i = 0; i < write.addresses.size(); ++i) {
    auto call = std::make_shared<Call>();
    SetDeadline(&call->ctx, kChunkDeadline);
    call->request = request;  // shares the slices
    StubsFor(write.addresses[i])
        ->generic->UnaryCall(&call->ctx, kMethod, grpc::StubOptions(), &call->request,
                             &call->response, [call, fanout, i](grpc::Status s) {
                               bool last;
                               {
                                 std::lock_guard<std::mutex> lock(fanout->mu);
                                 fanout->results[i] = FromGrpcStatus(s);
                                 last = --fanout->pending == 0;
                               }
                               if (last) fanout->done(std::move(fanout->results));
                             });
  }
}

absl::StatusOr<ChunkRead> GrpcChunkClient::ReadChunk(const std::string& address,
                                                     const std::string& chunk_id) {
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

std::unique_ptr<PendingRead> GrpcChunkClient::StartRead(const std::string& address,
                                                        const std::string& chunk_id,
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
