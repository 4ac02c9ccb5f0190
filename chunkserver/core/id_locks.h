// Per-chunk-id mutual exclusion for the chunk stores: operations on the same id are serialised,
// operations on different ids run in parallel, and no lock is held while another id waits.
#pragma once

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace medvault::chunkserver {

class IdLocks {
 public:
  // Holds the lock of one id for its lifetime.
  class Scoped {
   public:
    Scoped(IdLocks* locks, absl::string_view id) : locks_(locks), id_(id) {
      absl::MutexLock lock(&locks_->mu_);
      while (locks_->held_.contains(id_)) locks_->released_.Wait(&locks_->mu_);
      locks_->held_.insert(id_);
    }
    ~Scoped() {
      absl::MutexLock lock(&locks_->mu_);
      locks_->held_.erase(id_);
      locks_->released_.SignalAll();
    }
    Scoped(const Scoped&) = delete;
    Scoped& operator=(const Scoped&) = delete;

   private:
    IdLocks* const locks_;
    const std::string id_;
  };

 private:
  absl::Mutex mu_;
  absl::CondVar released_;
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::chunkserver
