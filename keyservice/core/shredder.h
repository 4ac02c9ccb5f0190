// Crypto-shredding on disk: the key service's KvShredder (common/kv_shredder.h). Deleting a wrapped
// data key in RocksDB only writes a tombstone; every replica notes each destroyed key as its
// deletion is applied, and the shredder then pushes the wrapped bytes out of the Raft log, the
// write-ahead log and the SST files. What remains is described in docs/security.md.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/kv_shredder.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {

// Thread-safe.
class Shredder : public KvShredder {
 public:
  // `kv` holds KeyStoreColumnFamilies() and `log_families` (see KvShredder).
  Shredder(KvStore* kv, std::function<absl::Status()> compact_log,
           std::vector<std::string> log_families)
      : KvShredder(kv, KeyStoreColumnFamilies(), std::move(compact_log), std::move(log_families)) {}

  // Notes a destroyed key (cheap; called from the Raft apply path).
  void Destroyed(const std::string& object_id) { Deleted(kKeysColumnFamily, object_id); }
};

}  // namespace medvault::keyservice
