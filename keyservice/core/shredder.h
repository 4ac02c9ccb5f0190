// Crypto-shredding on disk. Deleting a wrapped data key in RocksDB only writes a tombstone: the
// wrapped bytes stay in older SST files, in the write-ahead log, and in the Raft log entry that
// created the key, until those are rewritten. The Shredder, on every replica, takes note of each
// destroyed key as its deletion is applied and then: compacts the Raft log up to the applied index,
// flushes every column family (so the write-ahead logs holding the key become obsolete and are
// deleted), and force-compacts the destroyed keys' ranges and the Raft log column family to the
// bottom level, which drops the old values. What remains (filesystem blocks of deleted files,
// backups) is described in docs/security.md.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"

namespace medvault::keyservice {

// Thread-safe.
class Shredder {
 public:
  // `kv` holds KeyStoreColumnFamilies() and `log_families`; `compact_log` drops applied entries
  // from the Raft log (RaftNode::CompactLog), whose column families `log_families` (the Raft
  // ones) are then flushed and compacted too. Both empty for an unreplicated store. `kv` and
  // `compact_log` must outlive the shredder.
  Shredder(KvStore* kv, std::function<absl::Status()> compact_log,
           std::vector<std::string> log_families);

  // Notes a destroyed key (cheap; called from the Raft apply path).
  void Destroyed(const std::string& object_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Notes that the whole key store may hold dead values (a snapshot replaced it).
  void EverythingChanged() ABSL_LOCKS_EXCLUDED(mu_);

  // Shreds everything noted so far; returns when the old values are out of the database files.
  // On error the keys stay noted for the next call.
  absl::Status ShredPending() ABSL_LOCKS_EXCLUDED(mu_, shred_mu_);

  // Keys noted and not yet shredded.
  uint64_t pending() const ABSL_LOCKS_EXCLUDED(mu_);
  // Keys shredded since this process started.
  uint64_t shredded() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status Shred(const std::set<std::string>& ids, bool everything);

  KvStore* const kv_;
  const std::function<absl::Status()> compact_log_;
  const std::vector<std::string> log_families_;
  absl::Mutex shred_mu_;  // one shredding pass at a time
  mutable absl::Mutex mu_;
  std::set<std::string> pending_ ABSL_GUARDED_BY(mu_);
  bool everything_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t shredded_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medvault::keyservice
