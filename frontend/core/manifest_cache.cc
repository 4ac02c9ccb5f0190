#include "frontend/core/manifest_cache.h"

#include <utility>

namespace medvault::frontend {

ManifestCache::ManifestCache(ManifestCacheOptions options, Clock* clock)
    : options_(options), clock_(clock) {}

ManifestCache::Entry ManifestCache::Find(const std::string& sop_instance_uid) {
  if (!enabled()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sop_instance_uid);
  if (it == entries_.end()) {
    ++misses_;
    return nullptr;
  }
  if (clock_->NowMicros() >= it->second.expires_micros) {
    EraseLocked(it);
    ++misses_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.meta;
}

void ManifestCache::Insert(const std::string& sop_instance_uid, Entry entry) {
  if (!enabled() || entry == nullptr) return;
  const int64_t expires = clock_->NowMicros() + absl::ToInt64Microseconds(options_.ttl);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sop_instance_uid);
  if (it != entries_.end()) {
    it->second.meta = std::move(entry);
    it->second.expires_micros = expires;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (entries_.size() >= options_.max_entries) EraseLocked(entries_.find(lru_.back()));
  lru_.push_front(sop_instance_uid);
  entries_.emplace(sop_instance_uid, Slot{std::move(entry), expires, lru_.begin()});
}

void ManifestCache::Erase(const std::string& sop_instance_uid) {
  if (!enabled()) return;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sop_instance_uid);
  if (it != entries_.end()) EraseLocked(it);
}

void ManifestCache::EraseLocked(absl::flat_hash_map<std::string, Slot>::iterator it) {
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

size_t ManifestCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace medvault::frontend
