// Physically removing deleted values from a RocksDB database. Deleting a key only writes a
// tombstone: the old value stays in older SST files, in the write-ahead log, and in the Raft log
// entry that wrote it, until those are rewritten. A KvShredder, on every replica, takes note of
// each deleted key as its deletion is applied and then: compacts the Raft log up to the applied
// index, flushes every column family (so the write-ahead logs holding the values become obsolete
// and are deleted), and force-compacts the deleted keys' ranges (at most 64 per column family,
// neighbours grouped) and the Raft log column families to the bottom level, which drops the old
// values. The key service shreds destroyed data keys with it, the metaserver purges the index
// entries (PHI) of deleted studies. What remains (filesystem blocks of deleted files, backups,
// replicas that have not applied the delete yet) is described in docs/security.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"

namespace medvault {

// Thread-safe.
class KvShredder {
 public:
  // `kv` holds `families` (whose deleted keys are noted) and `log_families`; `compact_log` drops
  // applied entries from the Raft log (RaftNode::CompactLog), whose column families `log_families`
  // (the Raft ones) are then flushed and compacted too. Both empty for an unreplicated store. `kv`
  // and `compact_log` must outlive the shredder.
  KvShredder(KvStore* kv, std::vector<std::string> families,
             std::function<absl::Status()> compact_log, std::vector<std::string> log_families);

  // Notes a deleted key of column family `cf` (cheap; called from the Raft apply path). Keys of
  // other families than `families` are ignored.
  void Deleted(const std::string& cf, const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  // Notes that every family may hold dead values (a snapshot replaced the state).
  void EverythingChanged() ABSL_LOCKS_EXCLUDED(mu_);

  // Shreds everything noted so far; returns when the old values are out of the database files.
  // On error the keys stay noted for the next call.
  absl::Status ShredPending() ABSL_LOCKS_EXCLUDED(mu_, shred_mu_);

  // Keys noted and not yet shredded, including those of a pass under way.
  uint64_t pending() const ABSL_LOCKS_EXCLUDED(mu_);
  // Keys shredded since this process started.
  uint64_t shredded() const ABSL_LOCKS_EXCLUDED(mu_);
  // Shredding passes completed since this process started.
  uint64_t passes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Noted = std::map<std::string, std::set<std::string>>;  // column family -> keys
  absl::Status Shred(const Noted& keys, bool everything);

  KvStore* const kv_;
  const std::vector<std::string> families_;
  const std::function<absl::Status()> compact_log_;
  const std::vector<std::string> log_families_;
  absl::Mutex shred_mu_;  // one shredding pass at a time
  mutable absl::Mutex mu_;
  Noted pending_ ABSL_GUARDED_BY(mu_);
  uint64_t pending_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool everything_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t shredded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t passes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medvault
