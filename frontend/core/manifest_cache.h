// The frontend's cache of instance manifests (MetaClient::GetInstance answers), so a read of an
// instance read recently skips the metaserver lookup. What a committed manifest says about the
// object (id, sizes, chunk ids, checksums) never changes until it is deleted; where its replicas
// are can (repair, drain), so an entry lives at most `ttl` and a read that fails on a cached entry
// drops it and looks the instance up again.
//
// The cache is never what stops a deleted object from being read: an entry holds no key, and every
// read that uses one gets its data key from the key service after it starts, before it answers
// anything (ImageStoreCore::Get). A delete is acknowledged only after the key service committed
// the key's destruction, so that release is refused (docs/architecture.md, "Manifest cache").
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "medvault/v1/metaserver.pb.h"

namespace medvault::frontend {

struct ManifestCacheOptions {
  // Entries held at most (least recently used evicted first); 0 disables the cache.
  size_t max_entries = 0;
  // How long an entry may be used after it was looked up: bounds how stale its replica locations
  // can be, not the life of a deleted object (see above).
  absl::Duration ttl = absl::Seconds(60);
};

// Thread-safe.
class ManifestCache {
 public:
  using Entry = std::shared_ptr<const v1::GetInstanceMetaResponse>;

  // `clock` must outlive the cache.
  ManifestCache(ManifestCacheOptions options, Clock* clock);

  bool enabled() const { return options_.max_entries > 0; }
  // The entry of `sop_instance_uid` if one younger than the ttl is held (null otherwise, and
  // always when disabled). Counts a hit or a miss.
  Entry Find(const std::string& sop_instance_uid) ABSL_LOCKS_EXCLUDED(mu_);
  // Holds `meta`, looked up now, as the entry of `sop_instance_uid` (replacing any).
  void Insert(const std::string& sop_instance_uid, Entry meta) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the entry of `sop_instance_uid`, if any.
  void Erase(const std::string& sop_instance_uid) ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Finds answered with an entry, and without one (the service exports both).
  const std::atomic<uint64_t>& hits() const { return hits_; }
  const std::atomic<uint64_t>& misses() const { return misses_; }

 private:
  struct Slot {
    Entry meta;
    int64_t expires_micros = 0;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  void EraseLocked(absl::flat_hash_map<std::string, Slot>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ManifestCacheOptions options_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slot> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace medvault::frontend
