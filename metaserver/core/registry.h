// The chunk-server registry: which chunk servers exist (persisted in CF "servers"), which are up
// (heartbeat within the down interval, by the injected clock; in memory only), and where new chunks
// go (placement on distinct up servers, in distinct failure domains when there are enough).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "common/kv.h"
#include "medvault/v1/metaserver.pb.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {

struct RegistryOptions {
  // A server whose last heartbeat is this old (or older) is down.
  int64_t down_after_micros = 10'000'000;
  // Servers reporting less free space receive no new chunks.
  uint64_t min_free_bytes = 64ull << 20;
};

inline constexpr uint32_t kMaxReplicas = 5;
inline constexpr uint32_t kMaxChunksPerAllocation = 100000;

// Thread-safe.
class ChunkServerRegistry {
 public:
  // `kv` (opened with MetaserverColumnFamilies()) and `clock` must outlive the registry. `seed`
  // seeds the placement shuffle (chunk ids always come from the CSPRNG).
  // Registrations are written through `writer` (null: straight to `kv`).
  ChunkServerRegistry(KvStore* kv, Clock* clock, RegistryOptions options, uint64_t seed,
                      BatchWriter* writer = nullptr);

  // Loads the persisted servers; each stays down until it heartbeats. Call before use, and again
  // whenever the database may have gained servers behind the registry's back (a replica that just
  // became leader); servers already known keep their liveness. Starts a warm-up: until every
  // registered server has heartbeated since, or down_after_micros have passed, a server not
  // heard from yet may well be up, so placement that falls short says so (UNAVAILABLE) instead
  // of failing for good.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // Records a heartbeat: registers a new server, updates address, domain and space of a known one.
  // The persistent record is written (synchronously) only when the server is new or its address or
  // failure domain changed. INVALID_ARGUMENT without a server id or address.
  absl::Status Heartbeat(const v1::ChunkServerInfo& info) ABSL_LOCKS_EXCLUDED(mu_);

  // Marks a server draining (persisted through the writer) or not. NOT_FOUND when not registered.
  absl::Status SetDraining(absl::string_view server_id, bool draining) ABSL_LOCKS_EXCLUDED(mu_);
  // Records what the last repair pass found: these draining servers hold nothing still needed.
  void SetDrained(const std::vector<std::string>& drained_ids) ABSL_LOCKS_EXCLUDED(mu_);

  // Up to `count` distinct servers for new replicas of an existing chunk: up, not draining, with
  // min_free_bytes free, not in `exclude` (server ids), preferring failure domains not in
  // `used_domains` (servers' ids, whose domains are taken). Fewer (possibly none) when not enough
  // qualify.
  std::vector<v1::ChunkServerInfo> ChooseRepairTargets(const std::vector<std::string>& exclude,
                                                       const std::vector<std::string>& used_domains,
                                                       size_t count) ABSL_LOCKS_EXCLUDED(mu_);

  // Every registered server, ordered by server id.
  std::vector<v1::ChunkServerStatus> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // One server; nullopt when not registered.
  std::optional<v1::ChunkServerStatus> Find(absl::string_view server_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND when not registered.
  absl::StatusOr<std::string> AddressOf(absl::string_view server_id) const ABSL_LOCKS_EXCLUDED(mu_);

  struct Counts {
    size_t up = 0;
    size_t down = 0;
  };
  Counts CountUpDown() const ABSL_LOCKS_EXCLUDED(mu_);

  // A fresh random 16-byte id and `replicas` distinct up servers with at least min_free_bytes free
  // for each of `chunk_count` chunks. Servers are chosen at random, each from a different failure
  // domain while unused domains remain (an empty label is a domain of its own), then any distinct
  // server. INVALID_ARGUMENT unless 1 <= replicas <= 5 and 1 <= chunk_count <= 100000. When
  // fewer than `replicas` servers qualify: UNAVAILABLE while the registry warms up (Load) and
  // servers not heard from since could make up the difference (retry shortly); otherwise
  // FAILED_PRECONDITION "placement needs R chunk servers up, N are" (retrying will not help until
  // servers come back), or RESOURCE_EXHAUSTED when enough are up but too few have space. Servers
  // in `exclude` never qualify.
  absl::StatusOr<std::vector<v1::ChunkPlacement>> Place(uint32_t chunk_count, uint32_t replicas,
                                                        const std::set<std::string>& exclude = {})
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    v1::ChunkServerInfo info;
    int64_t registered_at_micros = 0;
    // 0 until the first heartbeat since this process started.
    int64_t last_heartbeat_micros = 0;
    bool draining = false;
    bool drained = false;  // as of the last repair pass
  };
  // Persists the entry's record. REQUIRES: mu_ held.
  absl::Status Persist(const std::string& server_id, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsUp(const Entry& entry, int64_t now) const;
  v1::ChunkServerStatus StatusOf(const Entry& entry, int64_t now) const;

  KvStore* const kv_;
  KvBatchWriter default_writer_;
  BatchWriter* const writer_;
  Clock* const clock_;
  const RegistryOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> servers_ ABSL_GUARDED_BY(mu_);
  int64_t loaded_at_micros_ ABSL_GUARDED_BY(mu_) = 0;  // start of the warm-up (Load)
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::metaserver
