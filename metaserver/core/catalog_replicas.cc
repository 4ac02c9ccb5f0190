// Replica bookkeeping for repair: walking every manifest, and moving one chunk's replicas with a
// compare-and-set so a repair never overwrites a concurrent change (delete, another repair).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {

absl::Status Catalog::ForEachManifest(const KvReader& snapshot,
                                      const std::function<bool(const v1::ObjectManifest&)>& fn) {
  return ScanProtos<v1::ObjectManifest>(
      snapshot, kManifestsCf, "",
      [&](absl::string_view, v1::ObjectManifest& manifest) { return fn(manifest); });
}

absl::Status Catalog::ReplaceChunkServers(absl::string_view object_id, uint32_t chunk_index,
                                          absl::string_view chunk_id,
                                          const std::vector<std::string>& expected_servers,
                                          const std::vector<std::string>& new_servers) {
  if (new_servers.empty()) return absl::InvalidArgumentError("a chunk needs at least one replica");
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  v1::ObjectManifest manifest;
  absl::Status s = state.GetProto(kManifestsCf, object_id, &manifest);
  if (absl::IsNotFound(s)) {
    return absl::FailedPreconditionError(
        absl::StrCat("object ", ToHex(object_id), " is no longer stored"));
  }
  RETURN_IF_ERROR(s);
  if (chunk_index >= static_cast<uint32_t>(manifest.chunks_size())) {
    return absl::InvalidArgumentError(absl::StrCat("object has no chunk ", chunk_index));
  }
  v1::ChunkLocation* chunk = manifest.mutable_chunks(static_cast<int>(chunk_index));
  if (chunk->chunk_id() != chunk_id)
    return absl::InvalidArgumentError("chunk id does not match the manifest");
  if (!std::equal(chunk->server_ids().begin(), chunk->server_ids().end(), expected_servers.begin(),
                  expected_servers.end())) {
    return absl::FailedPreconditionError(
        absl::StrCat("replicas of chunk ", ToHex(chunk_id), " changed meanwhile"));
  }
  chunk->clear_server_ids();
  for (const std::string& id : new_servers) chunk->add_server_ids(id);
  rocksdb::WriteBatch batch;
  batch.Put(kv_->cf(kManifestsCf), ToSlice(object_id), Encode(manifest));
  return Annotate(writer_->Write(&batch), "recording new replicas");
}

}  // namespace medvault::metaserver
