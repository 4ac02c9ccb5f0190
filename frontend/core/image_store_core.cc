#include "frontend/core/image_store_core.h"

#include <algorithm>
#include <deque>
#include <future>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "frontend/core/chunk_crypto.h"
#include "frontend/core/dicom_parser.h"
#include "frontend/core/hedged_read.h"
#include "frontend/core/put_session.h"
#include "frontend/core/stage_timer.h"

namespace medvault::frontend {
namespace {

// A sink of views as a ChunkSink: each chunk is lent to `sink` and dropped after.
ImageStoreCore::ChunkSink Viewing(const ImageStoreCore::Sink& sink) {
  return [&sink](uint64_t offset, PlainChunk chunk) { return sink(nullptr, offset, chunk.view()); };
}

}  // namespace

ImageStoreCore::ImageStoreCore(KeyClient* keys, MetaClient* meta, ChunkClient* chunks,
                               FrontendOptions options, Clock* clock)
    : keys_(keys),
      meta_(meta),
      chunks_(chunks),
      options_(options),
      clock_(clock),
      pool_(keys, options.dek_batch),
      chunk_budget_(options.chunk_budget),
      placer_(meta, options.replicas, clock,
              PlacementLease{options.placement_lease_chunks, options.placement_lease_micros}),
      committer_(keys, meta, &stats_),
      manifests_(ManifestCacheOptions{options.manifest_cache_entries, options.manifest_cache_ttl},
                 clock),
      grants_(KeyGrantOptions{options.key_grant_ttl, 256, options.set_lookups_in_parallel,
                              options.key_grant_sweep_interval},
              keys, meta, clock) {}

PutContext ImageStoreCore::put_context() {
  return PutContext{&options_,      clock_,   meta_,       chunks_, &pool_,
                    &chunk_budget_, &placer_, &committer_, &stats_};
}

std::unique_ptr<PutSession> ImageStoreCore::StartPut(PutTimings* timings) {
  return std::make_unique<PutSession>(put_context(), timings);
}

absl::StatusOr<v1::PutInstanceResponse> ImageStoreCore::Put(absl::string_view bytes,
                                                            PutTimings* timings) {
  PutSession session(put_context(), timings);
  RETURN_IF_ERROR(session.Append(bytes));
  return session.Finish();
}

absl::StatusOr<uint64_t> ImageStoreCore::RangeEnd(uint64_t size, uint64_t offset, uint64_t length) {
  if (offset > size) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is past the end (", size, " bytes)"));
  }
  return length > 0 && length < size - offset ? offset + length : size;
}

absl::StatusOr<ManifestCache::Entry> ImageStoreCore::LookUp(const std::string& sop_instance_uid,
                                                            bool use_cache, bool* cached) {
  *cached = false;
  if (use_cache) {
    if (ManifestCache::Entry entry = manifests_.Find(sop_instance_uid)) {
      *cached = true;
      return entry;
    }
  }
  ASSIGN_OR_RETURN(v1::GetInstanceMetaResponse meta, meta_->GetInstance(sop_instance_uid));
  auto entry = std::make_shared<const v1::GetInstanceMetaResponse>(std::move(meta));
  manifests_.Insert(sop_instance_uid, entry);
  return entry;
}

absl::Status ImageStoreCore::Get(const v1::GetInstanceRequest& request, const Sink& sink,
                                 const std::string& caller, const std::string& peer,
                                 GetTimings* timings) {
  ASSIGN_OR_RETURN(const std::string uid,
                   RequestUid(request.sop_instance_uid(), "sop_instance_uid"));
  const KeyAudit audit{caller, "GetInstance", peer};
  bool cached = false;
  auto look_up = [&](bool use_cache) {
    StageTimer timer(clock_, timings, &GetTimings::lookup);
    return LookUp(uid, use_cache, &cached);
  };
  ASSIGN_OR_RETURN(ManifestCache::Entry meta, look_up(/*use_cache=*/true));
  // A cached manifest is used only for a range that needs a key (one with data in it): the key
  // release is what proves the object was not deleted since it was cached.
  if (cached && request.offset() < meta->manifest().size()) {
    bool answered = false;
    absl::Status read =
        ReadInstance(*meta, request, sink, audit, /*fresh=*/false, &answered, timings);
    if (read.ok()) return read;
    // Replicas moved, or the object was deleted or stored again since it was cached: forget it;
    // when nothing was answered yet, read again with the metaserver's manifest.
    ForgetManifest(uid);
    if (answered) return read;
    ASSIGN_OR_RETURN(meta, look_up(/*use_cache=*/false));
  } else if (cached) {
    ASSIGN_OR_RETURN(meta, look_up(/*use_cache=*/false));
  }
  bool answered = false;
  absl::Status read = ReadInstance(*meta, request, sink, audit, /*fresh=*/true, &answered, timings);
  if (!read.ok()) ForgetManifest(uid);
  return read;
}

absl::Status ImageStoreCore::ReadInstance(v1::GetInstanceMetaResponse meta,
                                          const v1::GetInstanceRequest& request, const Sink& sink,
                                          const KeyAudit& audit, bool fresh, bool* answered,
                                          GetTimings* timings) {
  placer_.FillAddresses(&meta);
  const v1::ObjectManifest& m = meta.manifest();
  ASSIGN_OR_RETURN(const uint64_t end, RangeEnd(m.size(), request.offset(), request.length()));
  // The info goes out with the first bytes: after the key was released and the first chunk read.
  bool info_sent = false;
  const Sink counted = [&](const v1::InstanceInfo*, uint64_t offset,
                           absl::string_view data) -> absl::Status {
    *answered = true;
    if (!info_sent) {
      info_sent = true;
      RETURN_IF_ERROR(sink(&meta.info(), request.offset(), absl::string_view()));
    }
    return sink(nullptr, offset, data);
  };
  if (end == request.offset()) {
    *answered = true;
    return sink(&meta.info(), request.offset(), absl::string_view());
  }
  // The key release and the chunk fetches run at once: fetching and checking ciphertext needs no
  // key. Declared after `meta`, so a release still running on an early return (a future of
  // std::async waits for its thread when destroyed) finishes while what it reads is alive.
  // With a manifest this read looked up itself, the caller's study grant (key_grants.h) gives the
  // key, made now when the caller has none: the lookup proved the object is still stored.
  const bool grant = fresh && grants_.enabled();
  std::optional<absl::StatusOr<SecretBytes>> key;
  if (grant) {
    if (std::optional<SecretBytes> granted = grants_.Find(meta, audit)) key = std::move(*granted);
  }
  std::future<absl::StatusOr<SecretBytes>> key_release;
  if (!key.has_value()) {
    key_release = std::async(std::launch::async, [this, &meta, &m, &audit, grant]() {
      if (grant) {
        if (std::optional<SecretBytes> granted = grants_.Key(meta, audit)) {
          return absl::StatusOr<SecretBytes>(std::move(*granted));
        }
      }
      return keys_->GetDataKey(m.object_id(), audit);
    });
  }
  return StreamChunks(
      meta, request.offset(), end,
      [&]() -> absl::StatusOr<absl::string_view> {
        if (!key.has_value()) key = key_release.get();
        RETURN_IF_ERROR(key->status());
        return (*key)->view();
      },
      Viewing(counted), timings);
}

absl::Status ImageStoreCore::ReadObject(v1::GetInstanceMetaResponse meta, uint64_t offset,
                                        uint64_t length, absl::string_view key, const Sink& sink) {
  placer_.FillAddresses(&meta);
  ASSIGN_OR_RETURN(const uint64_t end, RangeEnd(meta.manifest().size(), offset, length));
  RETURN_IF_ERROR(sink(&meta.info(), offset, absl::string_view()));
  if (end == offset) return absl::OkStatus();
  return StreamChunks(
      meta, offset, end, [key]() -> absl::StatusOr<absl::string_view> { return key; },
      Viewing(sink));
}

absl::Status ImageStoreCore::ReadObjectChunks(v1::GetInstanceMetaResponse meta,
                                              absl::string_view key, const ChunkSink& take) {
  placer_.FillAddresses(&meta);
  const uint64_t size = meta.manifest().size();
  if (size == 0) return absl::OkStatus();
  return StreamChunks(
      meta, 0, size, [key]() -> absl::StatusOr<absl::string_view> { return key; }, take);
}

absl::Status ImageStoreCore::StreamChunks(const v1::GetInstanceMetaResponse& meta, uint64_t offset,
                                          uint64_t end, const KeySource& key_source,
                                          const ChunkSink& take, GetTimings* timings) {
  const v1::ObjectManifest& m = meta.manifest();
  if (m.chunk_size() == 0) return absl::DataLossError("manifest has chunk size 0");
  const uint64_t cs = m.chunk_size();
  const uint64_t first = offset / cs;
  const uint64_t last = (end - 1) / cs;
  if (last >= static_cast<uint64_t>(m.chunks_size())) {
    return absl::DataLossError(absl::StrCat("manifest lacks chunk ", last));
  }
  std::optional<absl::StatusOr<absl::string_view>> key;
  // Sealed chunks i, i+1, ... being fetched. The chunk needed now is fetched on this thread and
  // needs no slot of the budget; each one after it, on its own thread, holds a slot until it has
  // been sent. With the budget spent the read goes on one chunk at a time.
  struct Fetch {
    SlotPool::Lease slot;  // declared first: given back only after the fetch has finished
    std::future<absl::StatusOr<std::string>> sealed;
  };
  std::deque<Fetch> window;
  uint64_t next_fetch = first;
  const size_t window_chunks = std::max<uint32_t>(1, options_.read_window_chunks);
  for (uint64_t i = first; i <= last; ++i) {
    while (next_fetch <= last && window.size() < window_chunks) {
      SlotPool::Lease slot;
      if (!window.empty()) {
        slot = chunk_budget_.TryLease();
        if (!slot.held()) break;
      }
      const uint32_t index = static_cast<uint32_t>(next_fetch++);
      const std::launch policy = window.empty() ? std::launch::deferred : std::launch::async;
      window.push_back(Fetch{std::move(slot), std::async(policy, [this, &meta, index] {
                               return FetchSealedChunk(meta, index);
                             })});
    }
    const SlotPool::Lease slot = std::move(window.front().slot);  // given back once chunk i is sent
    std::optional<StageTimer<GetTimings>> fetching(std::in_place, clock_, timings,
                                                   &GetTimings::fetch);
    absl::StatusOr<std::string> sealed = window.front().sealed.get();
    fetching.reset();
    window.pop_front();
    if (!key.has_value()) {
      StageTimer<GetTimings> waiting(clock_, timings, &GetTimings::key);
      key = key_source();
    }
    RETURN_IF_ERROR(key->status());  // a refused or destroyed key says so, whatever the chunks did
    RETURN_IF_ERROR(sealed.status());
    const uint32_t index = static_cast<uint32_t>(i);
    // Decrypted in the buffer the sealed bytes arrived in, which then travels on by move.
    std::optional<StageTimer<GetTimings>> decrypting(std::in_place, clock_, timings,
                                                     &GetTimings::decrypt);
    absl::StatusOr<PlainChunk> plain = OpenChunk(m, **key, index, std::move(*sealed));
    decrypting.reset();
    if (!plain.ok()) {
      // The copy had the right checksum yet does not authenticate (a checksum is no defence
      // against a chunk server that forges): check every replica in full instead.
      ASSIGN_OR_RETURN(plain, ReadChunk(meta, **key, index));
    }
    const uint64_t chunk_start = i * cs;
    const uint64_t from = std::max(offset, chunk_start) - chunk_start;
    const uint64_t to = std::min(end, chunk_start + plain->size()) - chunk_start;
    plain->Narrow(from, to);
    StageTimer<GetTimings> sending(clock_, timings, &GetTimings::send);
    RETURN_IF_ERROR(take(chunk_start + from, std::move(*plain)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImageStoreCore::ReadReplicas(const v1::GetInstanceMetaResponse& meta,
                                                         uint32_t index,
                                                         const AcceptReplica& accept) {
  const v1::ObjectManifest& m = meta.manifest();
  if (index >= static_cast<uint32_t>(m.chunks_size())) {
    return absl::DataLossError(absl::StrCat("manifest lacks chunk ", index));
  }
  const v1::ChunkLocation& loc = m.chunks(static_cast<int>(index));
  std::vector<ReplicaAddress> replicas;
  for (const std::string& server_id : loc.server_ids()) {
    auto addr = meta.server_addresses().find(server_id);
    if (addr != meta.server_addresses().end())
      replicas.push_back(ReplicaAddress{server_id, addr->second});
  }
  if (replicas.empty()) {
    // Nothing was tried, so nothing is known to be lost: say what is missing and that a retry
    // (once the metaserver knows its chunk servers) may well succeed.
    return absl::UnavailableError(absl::StrCat(
        "reading chunk ", index, " of object ", ToHex(m.object_id()), ": no address is known for ",
        loc.server_ids_size() == 1
            ? "its replica"
            : absl::StrCat("any of its ", loc.server_ids_size(), " replicas"),
        " yet (a metaserver that has just taken over is still hearing from chunk servers); "
        "retry shortly"));
  }
  HedgedReadOptions hedging;
  hedging.hedge_delay = options_.read_hedge_delay;
  hedging.verify = [&](const ReplicaAddress& replica,
                       absl::StatusOr<ChunkRead> read) -> absl::StatusOr<std::string> {
    if (!read.ok()) return read.status();
    // End-to-end check: what arrived is what the frontend wrote.
    if (read->data.size() != loc.stored_size() || Crc32c(read->data) != loc.crc32c()) {
      return absl::DataLossError(
          absl::StrCat("replica on ", replica.server_id, " has a bad checksum"));
    }
    return accept(std::move(*read));
  };
  hedging.on_error = [&](const ReplicaAddress& replica, const absl::Status& error) {
    // A replica that is there but wrong (or gone) is reported so repair replaces it; a server
    // that cannot be reached is the metaserver's heartbeat business.
    if (absl::IsDataLoss(error) || absl::IsNotFound(error)) {
      absl::Status reported = meta_->ReportBadReplica(loc.chunk_id(), replica.server_id);
      if (reported.ok()) stats_.bad_replicas_reported += 1;
    }
  };
  HedgedReadCounters counters;
  absl::StatusOr<std::string> bytes =
      HedgedRead(chunks_, loc.chunk_id(), replicas, hedging, &counters);
  stats_.read_failovers += counters.failovers;
  stats_.hedged_reads += counters.hedges;
  if (bytes.ok()) return bytes;
  // "no intact replica" only when integrity failed; a replica that did not answer is not lost.
  return Annotate(bytes.status(),
                  absl::StrCat("reading chunk ", index, " of object ", ToHex(m.object_id()),
                               absl::IsDataLoss(bytes.status()) ? ": no intact replica"
                                                                : ": no replica could be read"));
}

absl::StatusOr<std::string> ImageStoreCore::FetchSealedChunk(
    const v1::GetInstanceMetaResponse& meta, uint32_t index) {
  return ReadReplicas(meta, index, [](ChunkRead read) { return std::move(read.data); });
}

absl::StatusOr<PlainChunk> ImageStoreCore::ReadChunk(const v1::GetInstanceMetaResponse& meta,
                                                     absl::string_view key, uint32_t index) {
  // The rare path (a replica that passed its checksum failed authentication): the plaintext is
  // copied out of the replica's buffer once.
  ASSIGN_OR_RETURN(std::string plain,
                   ReadReplicas(meta, index, [&](ChunkRead read) -> absl::StatusOr<std::string> {
                     ASSIGN_OR_RETURN(PlainChunk opened,
                                      OpenChunk(meta.manifest(), key, index, std::move(read.data)));
                     return std::string(opened.view());
                   }));
  return PlainChunk(std::move(plain));
}

absl::StatusOr<PlainChunk> ImageStoreCore::OpenChunk(const v1::ObjectManifest& m,
                                                     absl::string_view key, uint32_t index,
                                                     std::string sealed) {
  const bool last = index + 1 == static_cast<uint32_t>(m.chunks_size());
  const uint64_t expected_plain =
      last ? m.size() - static_cast<uint64_t>(index) * m.chunk_size() : m.chunk_size();
  ASSIGN_OR_RETURN(PlainChunk plain,
                   DecryptChunkInPlace(key, m.object_id(), index, last, std::move(sealed)));
  if (plain.size() != expected_plain) {
    return absl::DataLossError(absl::StrCat("chunk ", index, " has the wrong length"));
  }
  return plain;
}

absl::StatusOr<v1::FindStudiesResponse> ImageStoreCore::FindStudies(
    const v1::FindStudiesRequest& request) {
  ASSIGN_OR_RETURN(v1::FindStudiesMetaResponse found, meta_->FindStudies(request.query()));
  v1::FindStudiesResponse response;
  *response.mutable_page() = std::move(*found.mutable_page());
  return response;
}

namespace {

// The UIDs a LevelQuery names, unpadded and checked (INVALID_ARGUMENT naming the field).
absl::StatusOr<v1::LevelQuery> CheckedLevelQuery(v1::LevelQuery q) {
  if (!q.study_uid().empty()) {
    ASSIGN_OR_RETURN(std::string uid, RequestUid(q.study_uid(), "study_uid"));
    q.set_study_uid(uid);
  }
  if (!q.series_uid().empty()) {
    ASSIGN_OR_RETURN(std::string uid, RequestUid(q.series_uid(), "series_uid"));
    q.set_series_uid(uid);
  }
  if (!q.sop_instance_uid().empty()) {
    ASSIGN_OR_RETURN(std::string uid, RequestUid(q.sop_instance_uid(), "sop_instance_uid"));
    q.set_sop_instance_uid(uid);
  }
  return q;
}

}  // namespace

absl::StatusOr<v1::FindSeriesResponse> ImageStoreCore::FindSeries(
    const v1::FindSeriesRequest& request) {
  ASSIGN_OR_RETURN(v1::LevelQuery query, CheckedLevelQuery(request.query()));
  ASSIGN_OR_RETURN(v1::FindSeriesMetaResponse found, meta_->FindSeries(query));
  v1::FindSeriesResponse response;
  *response.mutable_page() = std::move(*found.mutable_page());
  return response;
}

absl::StatusOr<v1::FindInstancesResponse> ImageStoreCore::FindInstances(
    const v1::FindInstancesRequest& request) {
  ASSIGN_OR_RETURN(v1::LevelQuery query, CheckedLevelQuery(request.query()));
  ASSIGN_OR_RETURN(v1::FindInstancesMetaResponse found, meta_->FindInstances(query));
  v1::FindInstancesResponse response;
  *response.mutable_page() = std::move(*found.mutable_page());
  return response;
}

absl::StatusOr<v1::GetStudyResponse> ImageStoreCore::GetStudy(const v1::GetStudyRequest& request) {
  ASSIGN_OR_RETURN(const std::string uid, RequestUid(request.study_uid(), "study_uid"));
  ASSIGN_OR_RETURN(v1::GetStudyMetaResponse study, meta_->GetStudy(uid));
  v1::GetStudyResponse response;
  *response.mutable_study() = std::move(*study.mutable_study());
  for (auto& s : *study.mutable_series()) *response.add_series() = std::move(s);
  return response;
}

absl::StatusOr<v1::GetInstanceHeadersResponse> ImageStoreCore::GetInstanceHeaders(
    const v1::GetInstanceHeadersRequest& request) {
  v1::GetInstanceHeadersRequest checked = request;
  ASSIGN_OR_RETURN(*checked.mutable_study_uid(), RequestUid(request.study_uid(), "study_uid"));
  if (!request.series_uid().empty()) {
    ASSIGN_OR_RETURN(*checked.mutable_series_uid(), RequestUid(request.series_uid(), "series_uid"));
  }
  if (!request.sop_instance_uid().empty()) {
    ASSIGN_OR_RETURN(*checked.mutable_sop_instance_uid(),
                     RequestUid(request.sop_instance_uid(), "sop_instance_uid"));
  }
  return meta_->GetInstanceHeaders(checked);
}

absl::Status ImageStoreCore::ShredKeys(const v1::DeleteMetaResponse& deleted,
                                       const KeyAudit& audit) {
  std::vector<std::string> ids(deleted.object_ids().begin(), deleted.object_ids().end());
  if (ids.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(Annotate(keys_->DestroyDataKeys(ids, audit), "destroying data keys"));
  return Annotate(meta_->ConfirmKeysDestroyed(ids), "confirming key destruction");
}

absl::StatusOr<v1::DeleteStudyResponse> ImageStoreCore::DeleteStudy(
    const v1::DeleteStudyRequest& request, const std::string& caller) {
  ASSIGN_OR_RETURN(const std::string uid, RequestUid(request.study_uid(), "study_uid"));
  ASSIGN_OR_RETURN(v1::DeleteMetaResponse deleted, meta_->DeleteStudy(uid));
  grants_.Forget({deleted.object_ids().begin(), deleted.object_ids().end()});
  RETURN_IF_ERROR(ShredKeys(deleted, KeyAudit{caller, "DeleteStudy", ""}));
  v1::DeleteStudyResponse response;
  response.set_instances_deleted(deleted.instances_deleted());
  return response;
}

absl::StatusOr<v1::DeleteInstanceResponse> ImageStoreCore::DeleteInstance(
    const v1::DeleteInstanceRequest& request, const std::string& caller) {
  ASSIGN_OR_RETURN(const std::string uid,
                   RequestUid(request.sop_instance_uid(), "sop_instance_uid"));
  ASSIGN_OR_RETURN(v1::DeleteMetaResponse deleted, meta_->DeleteInstance(uid));
  grants_.Forget({deleted.object_ids().begin(), deleted.object_ids().end()});
  RETURN_IF_ERROR(ShredKeys(deleted, KeyAudit{caller, "DeleteInstance", ""}));
  return v1::DeleteInstanceResponse();
}

}  // namespace medvault::frontend
