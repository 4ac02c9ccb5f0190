// ChunkServerClient over gRPC (medvault.v1.ChunkService): one channel per chunk-server address,
// created on first use and kept, secured by the metaserver's transport security (with mutual TLS
// the server must prove it is a chunk server); every call carries a deadline.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/group_channels.h"
#include "common/tls.h"
#include "medvault/v1/chunkserver.grpc.pb.h"
#include "metaserver/core/clients.h"

namespace medvault::metaserver {

// Thread-safe.
class GrpcChunkServerClient : public ChunkServerClient {
 public:
  explicit GrpcChunkServerClient(TransportSecurity security,
                                 absl::Duration timeout = absl::Seconds(30));

  absl::Status DeleteChunks(const std::string& address,
                            const std::vector<std::string>& chunk_ids) override;
  absl::StatusOr<ChunkListPage> ListChunks(const std::string& address,
                                           absl::string_view start_after, uint32_t limit) override;
  absl::StatusOr<ChunkBytes> ReadChunk(const std::string& address,
                                       const std::string& chunk_id) override;
  absl::Status WriteChunk(const std::string& address, const std::string& chunk_id,
                          const std::string& data, uint32_t crc32c) override;
  absl::Status StartScrub(const std::string& address) override;
  absl::StatusOr<v1::ScrubStatus> GetScrubStatus(const std::string& address) override;

 private:
  v1::ChunkService::Stub* StubFor(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);

  const TransportSecurity security_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::ChunkService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

// KeyShredder over gRPC (medvault.v1.KeyService/DestroyDataKeys) to the key service's group,
// following its leader; the key service must present the keyservice certificate. Thread-safe.
class GrpcKeyShredder : public KeyShredder {
 public:
  GrpcKeyShredder(const std::vector<std::string>& addresses, const TransportSecurity& security);
  absl::Status DestroyKeys(const std::vector<std::string>& object_ids,
                           const std::string& on_behalf_of, const std::string& purpose) override;

 private:
  GroupChannels group_;
};

}  // namespace medvault::metaserver
