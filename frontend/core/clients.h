// What the frontend core needs from the other services, as interfaces: the gRPC implementations
// live in frontend/service/, unit tests use in-memory fakes. No gRPC header here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"
#include "medvault/v1/metaserver.pb.h"

namespace medvault::frontend {

// A data key released by the key service. The key bytes are wiped when it dies.
struct DataKeyMaterial {
  std::string object_id;  // 16 bytes
  SecretBytes key;        // 32 bytes
};

// What the key service records about a key call made for a client: whom it serves (the client's
// "role/name", empty for the frontend's own housekeeping) and which public method it serves.
struct KeyAudit {
  std::string on_behalf_of;
  std::string purpose;
  // The end client's address (host:port) when known: DICOMweb requests, share sessions.
  std::string peer;
};

class KeyClient {
 public:
  virtual ~KeyClient() = default;
  virtual absl::StatusOr<std::vector<DataKeyMaterial>> GenerateDataKeys(uint32_t count,
                                                                        const KeyAudit& audit) = 0;
  virtual absl::StatusOr<SecretBytes> GetDataKey(absl::string_view object_id,
                                                 const KeyAudit& audit) = 0;
  virtual absl::Status DestroyDataKeys(const std::vector<std::string>& object_ids,
                                       const KeyAudit& audit) = 0;
  // The keys of many objects (at most kMaxKeysPerRelease) under one audit record
  // (KeyService.GetDataKeys): one entry per id, in order; a key refused (destroyed, ...) is its
  // entry's error, the call's error is the whole release's. This default asks for each key alone,
  // so fakes that never release a set need not provide it.
  virtual absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GetDataKeys(
      const std::vector<std::string>& object_ids, const KeyAudit& audit) {
    std::vector<absl::StatusOr<SecretBytes>> keys;
    for (const std::string& id : object_ids) keys.push_back(GetDataKey(id, audit));
    return keys;
  }
};

// Most keys one GetDataKeys call releases (the key service's limit).
inline constexpr size_t kMaxKeysPerRelease = 1000;

class MetaClient {
 public:
  virtual ~MetaClient() = default;
  // With a non-empty `sop_instance_uid`, the reply's instance_exists hints whether it is stored.
  // No placement names a server of `exclude_server_ids` (at most 16).
  virtual absl::StatusOr<v1::AllocateChunksResponse> AllocateChunks(
      uint32_t chunk_count, uint32_t replicas, const std::string& sop_instance_uid,
      const std::vector<std::string>& exclude_server_ids) = 0;
  virtual absl::StatusOr<v1::CommitInstanceResponse> CommitInstance(
      const v1::CommitInstanceRequest& req) = 0;
  virtual absl::StatusOr<v1::GetInstanceMetaResponse> GetInstance(
      const std::string& sop_instance_uid) = 0;
  virtual absl::StatusOr<v1::FindStudiesMetaResponse> FindStudies(const v1::StudyQuery& query) = 0;
  virtual absl::StatusOr<v1::GetStudyMetaResponse> GetStudy(const std::string& study_uid) = 0;
  virtual absl::StatusOr<v1::DeleteMetaResponse> DeleteStudy(const std::string& study_uid) = 0;
  virtual absl::StatusOr<v1::DeleteMetaResponse> DeleteInstance(
      const std::string& sop_instance_uid) = 0;
  virtual absl::Status ConfirmKeysDestroyed(const std::vector<std::string>& object_ids) = 0;
  // Tells the metaserver a replica failed a read's checks, so repair replaces it.
  virtual absl::Status ReportBadReplica(const std::string& chunk_id,
                                        const std::string& server_id) = 0;
  // Series / instance search (MetaService.FindSeries / FindInstances). UNIMPLEMENTED by default,
  // so fakes that never search need not provide them.
  virtual absl::StatusOr<v1::FindSeriesMetaResponse> FindSeries(const v1::LevelQuery&) {
    return absl::UnimplementedError("FindSeries");
  }
  virtual absl::StatusOr<v1::FindInstancesMetaResponse> FindInstances(const v1::LevelQuery&) {
    return absl::UnimplementedError("FindInstances");
  }
  // Stored headers of a study's instances (MetaService.GetInstanceHeaders). UNIMPLEMENTED by
  // default, like the searches.
  virtual absl::StatusOr<v1::GetInstanceHeadersResponse> GetInstanceHeaders(
      const v1::GetInstanceHeadersRequest&) {
    return absl::UnimplementedError("GetInstanceHeaders");
  }
  // Retention rules and legal holds (MetaService.SetRetention / SetLegalHold). UNIMPLEMENTED by
  // default, for fakes.
  virtual absl::StatusOr<v1::RetentionMetaResponse> SetRetention(
      const v1::SetRetentionMetaRequest&) {
    return absl::UnimplementedError("SetRetention");
  }
  virtual absl::StatusOr<v1::RetentionMetaResponse> SetLegalHold(
      const v1::SetLegalHoldMetaRequest&) {
    return absl::UnimplementedError("SetLegalHold");
  }
};

// Every replica of one chunk: the same sealed bytes to each address. The bytes are shared, not
// copied, so a transport can send them as they are and keep them alive until it is done.
struct ReplicatedChunkWrite {
  std::string chunk_id;
  std::shared_ptr<const std::string> data;
  uint32_t crc32c = 0;
  std::vector<std::string> addresses;
};

struct ChunkRead {
  std::string data;
  uint32_t crc32c = 0;
};

// A read started by ChunkClient::StartRead. Thread-safe.
class PendingRead {
 public:
  virtual ~PendingRead() = default;
  // Asks for the read to stop (the reader has its answer from elsewhere); its callback still runs
  // once, soon, with CANCELLED or whatever arrived first.
  virtual void Cancel() = 0;
};

class ChunkClient {
 public:
  using ReadDone = std::function<void(absl::StatusOr<ChunkRead>)>;
  using WriteDone = std::function<void(std::vector<absl::Status>)>;
  virtual ~ChunkClient() = default;
  // Starts writing every replica of one chunk at once. `done` runs exactly once, on any thread,
  // possibly before StartWrite returns, when every replica has answered: one status per address,
  // in order (OK means durable on that server). It must not block.
  virtual void StartWrite(const ReplicatedChunkWrite& write, WriteDone done) = 0;
  virtual absl::StatusOr<ChunkRead> ReadChunk(const std::string& address,
                                              const std::string& chunk_id) = 0;
  // Starts a read without waiting for it: `done` runs exactly once, on any thread, possibly before
  // StartRead returns, and must not block. This default reads synchronously (no hedging possible);
  // the gRPC client and fakes that model slow replicas override it.
  virtual std::unique_ptr<PendingRead> StartRead(const std::string& address,
                                                 const std::string& chunk_id, ReadDone done);
};

}  // namespace medvault::frontend
