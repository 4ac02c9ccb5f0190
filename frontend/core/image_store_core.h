// The frontend's logic: the store and read paths of the public ImageStore API, independent of
// gRPC. A put (PutSession) parses, encrypts per chunk and writes every replica while the file
// arrives, then commits; Get reads a replica
// per chunk (failing over on error), verifies and decrypts; Delete removes from the index, shreds
// the keys, then lets garbage collection reclaim the chunks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "frontend/core/clients.h"
#include "frontend/core/dek_pool.h"
#include "frontend/core/slot_pool.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend {

struct FrontendOptions {
  // Plaintext bytes per chunk. 1 MiB: see docs/architecture.md for the measurement behind it.
  uint32_t chunk_size = 1 << 20;
  // Replicas written for every chunk before a put is acknowledged.
  uint32_t replicas = 3;
  // Keys fetched from the key service per refill of the pool.
  uint32_t dek_batch = 16;
  // A put whose first chunk write is older than this when it would commit is not committed
  // (DEADLINE_EXCEEDED): the metaserver collects unreferenced chunks older than its orphan grace
  // (>= 600 s), so a slower put could otherwise commit chunks that were already reclaimed.
  int64_t max_write_seconds = 300;
  // Chunks of one put being written at once (each to every replica). 8 × 1 MiB keeps the chunk
  // servers' disks busy while the upload goes on, and bounds a put's sealed bytes in memory.
  uint32_t max_chunks_in_flight = 8;
  // Fewest placements asked for when a put needs more (it does not know its size in advance;
  // each request asks for at least as many as the put has used so far).
  uint32_t placement_batch = 16;
  // A chunk read not answered by its replica within this long is also asked of the next replica,
  // and the first good answer wins (a slow or stopped server costs one delay, not a timeout).
  // 200 ms: far above a healthy 1 MiB chunk read on a LAN (a few ms), so hedges stay rare and
  // add little load. InfiniteDuration() disables hedging (failover on errors only).
  absl::Duration read_hedge_delay = absl::Milliseconds(200);
  // Chunks of one read fetched at once: the one being decrypted and sent, and those after it
  // within the range asked for. Their ciphertext is fetched and checked while the key release
  // (an audited, replicated write in the key service) is still on its way.
  uint32_t read_window_chunks = 4;
  // Sealed chunks all puts and reads together may hold beyond the one each is working on (their
  // windows above grow only with these; slot_pool.h). 256 × ~1 MiB: a frontend's transfer
  // memory stays near 256 MiB plus one chunk per transfer, however many run.
  uint32_t chunk_budget = 256;
};

// Counters the service layer exports as metrics. Thread-safe.
struct CoreStats {
  std::atomic<uint64_t> replica_write_failures{0};
  std::atomic<uint64_t> read_failovers{0};
  // Chunk reads also asked of another replica because the first was slow.
  std::atomic<uint64_t> hedged_reads{0};
  std::atomic<uint64_t> bad_replicas_reported{0};
  std::atomic<uint64_t> abandoned_puts{0};
  // Commits whose outcome was unknown (deadline, lost connection) and not resolved by a lookup.
  std::atomic<uint64_t> uncertain_commits{0};
  // Times a put waited for its window of chunk writes (or, at its end, for the last ones): the
  // chunk servers, not the upload, were the slower side.
  std::atomic<uint64_t> put_window_waits{0};
  // Chunks written again on other servers after a replica write failed (a server down or full
  // in the moment before the metaserver knows).
  std::atomic<uint64_t> chunks_replaced{0};
};

// Where one put spent its time, in seconds per stage (the service exports them as
// medvault_frontend_put_stage_seconds{stage}). A stage not reached stays 0. The stages overlap
// with the upload: their sum is less than the put's latency when the client is the slower side.
struct PutTimings {
  double parse = 0;   // DICOM parse and SHA-256 of the pieces, as they arrive
  double lookup = 0;  // confirming a re-send (only when placement says the UID is stored)
  double key = 0;     // taking a data key from the pool (a key-service round trip when empty)
  double place = 0;   // chunk placement and the re-send hint (AllocateChunks)
  double seal = 0;    // AES-GCM encryption and CRC32C of the chunks
  double write = 0;   // waiting for replica writes: the window full, and the last ones at the end
  double commit = 0;  // manifest commit (CommitInstance: Raft-replicated)
};

class PutSession;

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
  // refills on its own account.
  absl::Status Get(const v1::GetInstanceRequest& request, const Sink& sink,
                   const std::string& caller = "");

  absl::StatusOr<v1::FindStudiesResponse> FindStudies(const v1::FindStudiesRequest& request);
  absl::StatusOr<v1::GetStudyResponse> GetStudy(const v1::GetStudyRequest& request);
  // Series / instance search from the index (LevelQuery); UIDs named are checked as RequestUid
  // does.
  absl::StatusOr<v1::FindSeriesResponse> FindSeries(const v1::FindSeriesRequest& request);
  absl::StatusOr<v1::FindInstancesResponse> FindInstances(const v1::FindInstancesRequest& request);
  absl::StatusOr<v1::DeleteStudyResponse> DeleteStudy(const v1::DeleteStudyRequest& request,
                                                      const std::string& caller = "");
  absl::StatusOr<v1::DeleteInstanceResponse> DeleteInstance(
      const v1::DeleteInstanceRequest& request, const std::string& caller = "");

  // Destroys pooled keys that were never used. Call at shutdown.
  absl::Status Shutdown() { return pool_.Drain(); }

  const CoreStats& stats() const { return stats_; }
  const SlotPool& chunk_budget() const { return chunk_budget_; }

 private:
  friend class PutSession;

  // Commits the manifest of a put whose replicas are all durable, and settles the key: destroyed
  // when the commit certainly did not land, kept when it may have.
  absl::StatusOr<v1::PutInstanceResponse> CommitPut(const v1::InstanceTags& tags,
                                                    v1::ObjectManifest manifest,
                                                    const DataKeyMaterial& key,
                                                    const std::string& sha256,
                                                    v1::PutInstanceResponse response);
  // AllocateChunks through the metaserver; the placed servers' addresses are remembered.
  absl::StatusOr<v1::AllocateChunksResponse> Place(uint32_t chunk_count,
                                                   const std::string& sop_instance_uid,
                                                   const std::vector<std::string>& exclude);
  // Remembers the lookup's server addresses and adds the remembered ones of the manifest's
  // servers it does not name: a metaserver that has just taken over may not know them yet, and
  // a read should try every replica rather than fail (issue 14, item 8).
  void FillAddresses(v1::GetInstanceMetaResponse* meta) ABSL_LOCKS_EXCLUDED(addresses_mu_);
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
  absl::StatusOr<std::string> ReadChunk(const v1::GetInstanceMetaResponse& meta,
                                        absl::string_view key, uint32_t index);
  // Decrypts chunk `index` of the object and checks the plaintext's length.
  static absl::StatusOr<std::string> OpenChunk(const v1::ObjectManifest& m, absl::string_view key,
                                               uint32_t index, absl::string_view sealed);
  // Destroys the keys of deleted objects, then tells the metaserver.
  absl::Status ShredKeys(const v1::DeleteMetaResponse& deleted, const KeyAudit& audit);
  // The key of a put that did not commit is useless: destroy it (best effort).
  // REQUIRES: no committed manifest references the key.
  void AbandonKey(const DataKeyMaterial& key);
  // True when a commit error means the metaserver certainly did not apply the commit.
  static bool IsDefiniteRejection(absl::StatusCode code);

  KeyClient* keys_;
  MetaClient* meta_;
  ChunkClient* chunks_;
  const FrontendOptions options_;
  Clock* clock_;
  DekPool pool_;
  CoreStats stats_;
  SlotPool chunk_budget_;  // FrontendOptions::chunk_budget
  // Chunk-server addresses by server id, from placements and lookups (a handful of servers).
  absl::Mutex addresses_mu_;
  std::map<std::string, std::string> known_addresses_ ABSL_GUARDED_BY(addresses_mu_);
};

}  // namespace medvault::frontend
