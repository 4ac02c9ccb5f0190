// The frontend's logic: the store and read paths of the public ImageStore API, independent of
// gRPC. A put (PutSession, built from this core's collaborators) parses, encrypts per chunk and
// writes every replica while the file arrives, then commits (PutCommitter); Get reads a replica per
// chunk (failing over on error), verifies and decrypts; Delete removes from the index, shreds the
// keys, then lets garbage collection reclaim the chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/env.h"
#include "frontend/core/chunk_crypto.h"
#include "frontend/core/chunk_placer.h"
#include "frontend/core/clients.h"
#include "frontend/core/dek_pool.h"
#include "frontend/core/key_grants.h"
#include "frontend/core/manifest_cache.h"
#include "frontend/core/options.h"
#include "frontend/core/put_commit.h"
#include "frontend/core/slot_pool.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

class PutSession;
struct PutContext;

class ImageStoreCore {
 public:
  // The clients must outlive the core.
  ImageStoreCore(KeyClient* keys, MetaClient* meta, ChunkClient* chunks, FrontendOptions options,
                 Clock* clock = RealClock());

  // Starts a put whose bytes arrive in pieces (put_session.h). `timings`, when set, receives
  // where it spent its time and must outlive the session.
  std::unique_ptr<PutSession> StartPut(PutTimings* timings = nullptr);
  // Stores one instance given as its complete bytes: a session fed once. Visible only after every
  // replica of every chunk is durable and the manifest is committed. Errors: see
  // ImageStore.PutInstance.
  absl::StatusOr<v1::PutInstanceResponse> Put(absl::string_view bytes,
                                              PutTimings* timings = nullptr);

  // Receives the instance info once (first call, non-null) and then consecutive pieces of the
  // requested range. Returning an error stops the read (e.g. the client went away).
  using Sink = std::function<absl::Status(const v1::InstanceInfo* info, uint64_t offset,
                                          absl::string_view data)>;
  // OUT_OF_RANGE when offset is past the end; NOT_FOUND when the instance does not exist.
  // `caller` ("role/name" of the client, or empty) is what the key service's audit log records the
  // key release (or destruction, below) was made for. Keys for puts come from a pool the frontend
  // refills on its own account. `peer`, the client's address when known (DICOMweb, share
  // sessions), is recorded with the release.
  // `timings`, when given, gets where the read spent its time (GetTimings).
  absl::Status Get(const v1::GetInstanceRequest& request, const Sink& sink,
                   const std::string& caller = "", const std::string& peer = "",
                   GetTimings* timings = nullptr);

  // The bytes [offset, offset + length) (length 0: to the end) of the object `meta` describes
  // (as MetaClient::GetInstance returns it), decrypted with `key`, which the caller has released
  // (a set retrieval releases every key of the set at once: set_retrieval.h). To `sink` as Get
  // does; the same errors, without the lookup's.
  absl::Status ReadObject(v1::GetInstanceMetaResponse meta, uint64_t offset, uint64_t length,
                          absl::string_view key, const Sink& sink);
  // What ReadObjectChunks hands on: each chunk's plaintext (its buffer moved, not copied) and its
  // offset in the object, in order.
  using ChunkSink = std::function<absl::Status(uint64_t offset, PlainChunk chunk)>;
  // The whole object as ReadObject reads it, chunk by chunk to `take` (no info first).
  absl::Status ReadObjectChunks(v1::GetInstanceMetaResponse meta, absl::string_view key,
                                const ChunkSink& take);

  // A whole study or series, its data keys released in one audited call and instances read
  // ahead (set_retrieval.h, where the errors are). The sink gets each instance's info, then its
  // bytes, instance after instance.
  absl::Status RetrieveStudy(const v1::RetrieveStudyRequest& request, const Sink& sink,
                             const std::string& caller = "");
  // The same for `set` as the index lists it (GetStudy); `purpose` and `peer` (the client's
  // address when known) are recorded with the release.
  absl::Status RetrieveSet(const std::vector<v1::InstanceInfo>& set, const Sink& sink,
                           const std::string& caller, const std::string& purpose,
                           const std::string& peer = "");

  absl::StatusOr<v1::FindStudiesResponse> FindStudies(const v1::FindStudiesRequest& request);
  absl::StatusOr<v1::GetStudyResponse> GetStudy(const v1::GetStudyRequest& request);
  // Series / instance search from the index (LevelQuery); UIDs named are checked as RequestUid
  // does.
  absl::StatusOr<v1::FindSeriesResponse> FindSeries(const v1::FindSeriesRequest& request);
  absl::StatusOr<v1::FindInstancesResponse> FindInstances(const v1::FindInstancesRequest& request);
  // The index's instance records with their stored headers (WADO-RS /metadata), one page; the
  // UIDs named are checked as RequestUid does. No key is released.
  absl::StatusOr<v1::GetInstanceHeadersResponse> GetInstanceHeaders(
      const v1::GetInstanceHeadersRequest& request);
  absl::StatusOr<v1::DeleteStudyResponse> DeleteStudy(const v1::DeleteStudyRequest& request,
                                                      const std::string& caller = "");
  absl::StatusOr<v1::DeleteInstanceResponse> DeleteInstance(
      const v1::DeleteInstanceRequest& request, const std::string& caller = "");

  // Retention rules and legal holds, for `caller` (recorded as who set them); UIDs checked as
  // RequestUid does (image_store_retention.cc).
  absl::StatusOr<v1::RetentionResponse> SetRetention(const v1::SetRetentionRequest& request,
                                                     const std::string& caller);
  absl::StatusOr<v1::RetentionResponse> SetLegalHold(const v1::SetLegalHoldRequest& request,
                                                     const std::string& caller);

  // Destroys pooled keys that were never used. Call at shutdown.
  absl::Status Shutdown() { return pool_.Drain(); }

  // The manifest of `sop_instance_uid` (a checked UID): the manifest cache's entry when it holds
  // one and `use_cache` (then `*cached` is set true), else the metaserver's answer, which is
  // cached. Whoever reads with a cached entry must release the object's key before answering
  // anything, and forget the entry (ForgetManifest) when the read fails.
  absl::StatusOr<ManifestCache::Entry> LookUp(const std::string& sop_instance_uid, bool use_cache,
                                              bool* cached);
  void ForgetManifest(const std::string& sop_instance_uid) { manifests_.Erase(sop_instance_uid); }
  const ManifestCache& manifest_cache() const { return manifests_; }
  const KeyGrants& key_grants() const { return grants_; }
  KeyGrants& key_grants() { return grants_; }

  const CoreStats& stats() const { return stats_; }
  const SlotPool& chunk_budget() const { return chunk_budget_; }

 private:
  // The collaborators a put works with: this core's own.
  PutContext put_context();

  // The end of the range [offset, offset + length) of an object of `size` bytes; OUT_OF_RANGE
  // when offset is past the end.
  static absl::StatusOr<uint64_t> RangeEnd(uint64_t size, uint64_t offset, uint64_t length);
  // Sends bytes [offset, end) of the object (REQUIRES: the info already sent, offset < end):
  // fetches its chunks through a window and decrypts each with the key `key` returns (called once,
  // when the first chunk has arrived, so a key release can overlap the fetches).
  using KeySource = std::function<absl::StatusOr<absl::string_view>()>;
  // A read of the range asked for with `meta`: releases the key beside the first chunks' fetch
  // and hands the sink the info only once the key is released (so an object deleted since `meta`
  // was looked up answers nothing). `*answered` tells whether the sink was called. `fresh`: `meta`
  // was looked up from the metaserver by this read (not cached), so a study grant may give the key.
  absl::Status ReadInstance(v1::GetInstanceMetaResponse meta, const v1::GetInstanceRequest& request,
                            const Sink& sink, const KeyAudit& audit, bool fresh, bool* answered,
                            GetTimings* timings);
  absl::Status StreamChunks(const v1::GetInstanceMetaResponse& meta, uint64_t offset, uint64_t end,
                            const KeySource& key, const ChunkSink& take,
                            GetTimings* timings = nullptr);
  // What a read accepts from one replica's answer: the bytes to keep, or why the replica is no
  // good.
  using AcceptReplica = std::function<absl::StatusOr<std::string>(ChunkRead read)>;
  // Reads chunk `index` from its replicas in manifest order, hedged after
  // options_.read_hedge_delay, failing over on any error and on any answer `accept` refuses
  // (hedged_read.h); replicas that are there but wrong are reported for repair.
  absl::StatusOr<std::string> ReadReplicas(const v1::GetInstanceMetaResponse& meta, uint32_t index,
                                           const AcceptReplica& accept);
  // The sealed bytes of chunk `index` from the first replica whose copy has the manifest's length
  // and CRC32C. Needs no key.
  absl::StatusOr<std::string> FetchSealedChunk(const v1::GetInstanceMetaResponse& meta,
                                               uint32_t index);
  // Chunk `index` checked end to end on each replica (length, CRC32C, authentication, plaintext
  // length): the plaintext of the first that passes.
  absl::StatusOr<PlainChunk> ReadChunk(const v1::GetInstanceMetaResponse& meta,
                                       absl::string_view key, uint32_t index);
  // Decrypts chunk `index` of the object in place and checks the plaintext's length.
  static absl::StatusOr<PlainChunk> OpenChunk(const v1::ObjectManifest& m, absl::string_view key,
                                              uint32_t index, std::string sealed);
  // Destroys the keys of deleted objects, then tells the metaserver.
  absl::Status ShredKeys(const v1::DeleteMetaResponse& deleted, const KeyAudit& audit);

  KeyClient* keys_;
  MetaClient* meta_;
  ChunkClient* chunks_;
  const FrontendOptions options_;
  Clock* clock_;
  DekPool pool_;
  CoreStats stats_;
  SlotPool chunk_budget_;  // FrontendOptions::chunk_budget
  ChunkPlacer placer_;
  PutCommitter committer_;
  ManifestCache manifests_;
  KeyGrants grants_;  // declared last: its sweeping thread stops first
};

}  // namespace medvault::frontend
