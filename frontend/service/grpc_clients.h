// gRPC implementations of the frontend core's client interfaces (key service, metaserver,
// chunk servers). Every call carries a deadline; calls to the replicated key service and metaserver
// follow their leader and retry on UNAVAILABLE within that deadline. Channels use the frontend's
// transport security; with mutual TLS each server must present a certificate naming its service.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "common/group_channels.h"
#include "common/tls.h"
#include "frontend/core/clients.h"
#include "frontend/core/share_desk.h"
#include "medvault/v1/chunkserver.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"

namespace medvault::frontend {

class GrpcKeyClient : public KeyClient {
 public:
  // `addresses`: the key service group's members.
  GrpcKeyClient(const std::vector<std::string>& addresses, const TransportSecurity& security);
  absl::StatusOr<std::vector<DataKeyMaterial>> GenerateDataKeys(uint32_t count,
                                                                const KeyAudit& audit) override;
  absl::StatusOr<SecretBytes> GetDataKey(absl::string_view object_id,
                                         const KeyAudit& audit) override;
  absl::Status DestroyDataKeys(const std::vector<std::string>& object_ids,
                               const KeyAudit& audit) override;
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GetDataKeys(
      const std::vector<std::string>& object_ids, const KeyAudit& audit) override;

  // Operator calls, forwarded for clients holding the admin scope.
  absl::StatusOr<v1::QueryAuditResponse> QueryAudit(const v1::QueryAuditRequest& request);
  absl::StatusOr<v1::VerifyAuditResponse> VerifyAudit(const v1::VerifyAuditRequest& request);
  // Records a refusal of `client` calling `method` in the key service's audit log; waits at most
  // two seconds (the refusal stands either way).
  absl::Status RecordDenial(const std::string& client, absl::string_view method,
                            const absl::Status& why);
  // Records a share event (a redemption, revocation or unlock) in the key service's audit log
  // (KeyService.RecordShareEvent); waits at most two seconds.
  absl::Status RecordShareEvent(const std::string& on_behalf_of, const std::string& purpose,
                                const std::string& peer, absl::StatusCode result);
  absl::StatusOr<v1::GetKekStatusResponse> GetKekStatus();
  absl::StatusOr<v1::RotateKekResponse> RotateKek(const v1::RotateKekRequest& request);
  absl::Status RetireKek(const v1::RetireKekRequest& request);
  // The group's members, for the Raft membership calls (raft_admin_client.h).
  GroupChannels* group() { return &group_; }

 private:
  GroupChannels group_;
};

class GrpcMetaClient : public MetaClient, public ShareMetaClient {
 public:
  // `addresses`: the metaserver group's members.
  GrpcMetaClient(const std::vector<std::string>& addresses, const TransportSecurity& security);
  absl::StatusOr<v1::AllocateChunksResponse> AllocateChunks(
      uint32_t chunk_count, uint32_t replicas, const std::string& sop_instance_uid,
      const std::vector<std::string>& exclude_server_ids) override;
  absl::StatusOr<v1::CommitInstanceResponse> CommitInstance(
      const v1::CommitInstanceRequest& req) override;
  absl::StatusOr<v1::GetInstanceMetaResponse> GetInstance(
      const std::string& sop_instance_uid) override;
  absl::StatusOr<v1::FindStudiesMetaResponse> FindStudies(const v1::StudyQuery& query) override;
  absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string& study_uid) override;
  absl::StatusOr<v1::DeleteMetaResponse> DeleteStudy(const std::string& study_uid) override;
  absl::StatusOr<v1::DeleteMetaResponse> DeleteInstance(
      const std::string& sop_instance_uid) override;
  absl::Status ConfirmKeysDestroyed(const std::vector<std::string>& object_ids) override;
  absl::Status ReportBadReplica(const std::string& chunk_id, const std::string& server_id) override;
  absl::StatusOr<v1::FindSeriesMetaResponse> FindSeries(const v1::LevelQuery& query) override;
  absl::StatusOr<v1::FindInstancesMetaResponse> FindInstances(const v1::LevelQuery& query) override;
  absl::StatusOr<v1::GetInstanceHeadersResponse> GetInstanceHeaders(
      const v1::GetInstanceHeadersRequest& req) override;
  absl::StatusOr<v1::RetentionMetaResponse> SetRetention(
      const v1::SetRetentionMetaRequest& req) override;
  absl::StatusOr<v1::RetentionMetaResponse> SetLegalHold(
      const v1::SetLegalHoldMetaRequest& req) override;

  // Operator calls, forwarded for clients holding the admin scope.
  absl::StatusOr<v1::ListChunkServersResponse> ListChunkServers();
  absl::Status DrainChunkServer(const v1::DrainChunkServerRequest& request);
  absl::StatusOr<v1::StartScrubMetaResponse> StartScrub(const v1::StartScrubMetaRequest& request);
  absl::StatusOr<v1::GetScrubStatusMetaResponse> GetScrubStatus(
      const v1::GetScrubStatusMetaRequest& request);
  absl::StatusOr<v1::CheckIndexResponse> CheckIndex(const v1::CheckIndexRequest& request);
  // The group's members, for the Raft membership calls (raft_admin_client.h).
  GroupChannels* group() { return &group_; }

  // Shares (ShareMetaClient).
  absl::StatusOr<v1::StoredShare> CreateShare(const v1::StoredShare& share) override;
  absl::StatusOr<std::vector<v1::ShareInfo>> ListShares() override;
  absl::StatusOr<v1::StoredShare> GetShare(const v1::ShareRef& ref) override;
  absl::StatusOr<v1::StoredShare> RevokeShare(const v1::ShareRef& ref,
                                              const std::string& actor) override;
  absl::StatusOr<v1::StoredShare> UnlockShare(const v1::ShareRef& ref,
                                              const std::string& actor) override;
  absl::StatusOr<v1::RecordShareAccessResponse> RecordShareAccess(
      const v1::RecordShareAccessRequest& request) override;
  absl::StatusOr<std::vector<v1::ShareLogEntry>> GetShareLog(const v1::ShareRef& ref) override;

 private:
  GroupChannels group_;
};

// WriteChunkRequest for `write`, its data not copied (exposed for tests).
grpc::ByteBuffer SerializeWriteChunk(const ReplicatedChunkWrite& write);

class GrpcChunkClient : public ChunkClient {
 public:
  explicit GrpcChunkClient(TransportSecurity security) : security_(std::move(security)) {}
  // The request is serialised once and its data is the caller's buffer itself: the replicas' calls
  // share those bytes (gRPC slices), so the ciphertext is not copied on its way to the sockets.
  void StartWrite(const ReplicatedChunkWrite& write, WriteDone done) override;
  absl::StatusOr<ChunkRead> ReadChunk(const std::string& address,
                                      const std::string& chunk_id) override;
  // Asynchronous (gRPC callback API), so a reader can hedge; Cancel() cancels the call.
  std::unique_ptr<PendingRead> StartRead(const std::string& address, const std::string& chunk_id,
                                         ReadDone done) override;

 private:
  struct Stubs {
    std::unique_ptr<v1::ChunkService::Stub> typed;
    std::unique_ptr<grpc::GenericStub> generic;  // for writes, which send pre-serialised bytes
  };
  Stubs* StubsFor(const std::string& address);
  v1::ChunkService::Stub* StubFor(const std::string& address) {
    return StubsFor(address)->typed.get();
  }

  const TransportSecurity security_;
  std::mutex mu_;
  std::map<std::string, Stubs> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::frontend
