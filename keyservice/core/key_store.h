// The key service's store of data keys (DEKs): one random 256-bit DEK per object id, kept in
// RocksDB only wrapped (AES-256-GCM) under the newest KEK of a KekRing and bound to its object
// id, plus an audit log line for every generation, release and destruction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/kv.h"
#include "keyservice/core/kek.h"

namespace medvault::keyservice {

// Column family holding the wrapped keys: key = 16-byte object id, value = WrappedDataKey.
inline constexpr char kKeysColumnFamily[] = "keys";
inline constexpr size_t kObjectIdBytes = 16;
// Generate() accepts 1..kMaxGenerateCount keys per call.
inline constexpr uint32_t kMaxGenerateCount = 1000;
// Prefix of the associated data that binds a wrapped DEK to its object id and KEK version:
// "medvault-dek-v1" || object id || kek_version (4 bytes, big-endian).
inline constexpr char kDekAssociatedDataPrefix[] = "medvault-dek-v1";

// A fresh DEK and the object id it belongs to.
struct GeneratedKey {
  std::string object_id;  // kObjectIdBytes random bytes
  SecretBytes key;        // kAesKeyBytes; wiped when this struct dies
};

// Thread-safe. Errors never carry key bytes; they may carry object ids in hex.
class KeyStore {
 public:
  // REQUIRES: `kv` was opened with kKeysColumnFamily. Does not take ownership; all must outlive the
  // store. Writes go through `writer` (null: straight to `kv`); reads and destroys first take its
  // barrier, so a replicated key service answers from current state.
  KeyStore(KvStore* kv, const KekRing* keks, Clock* clock, KvWriter* writer = nullptr);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Generates `count` DEKs from the CSPRNG under fresh random object ids, wraps each under the
  // newest KEK and writes them all in one synchronous batch: when this returns OK every key is
  // durable; on error none was stored. INVALID_ARGUMENT unless 1 <= count <= kMaxGenerateCount;
  // FAILED_PRECONDITION when the ring holds no KEK; the KvStore's error when the write fails.
  absl::StatusOr<std::vector<GeneratedKey>> Generate(uint32_t count);

  // The DEK of `object_id`. INVALID_ARGUMENT unless it is kObjectIdBytes long; NOT_FOUND when it
  // never existed or was destroyed; FAILED_PRECONDITION when it was wrapped under a KEK version the
  // ring does not hold; DATA_LOSS when the record is corrupt or does not authenticate (wrong KEK,
  // tampered bytes, or a record moved to another object id).
  absl::StatusOr<SecretBytes> Get(absl::string_view object_id);

  // Deletes the DEKs of `object_ids` in one synchronous batch and returns how many of the distinct
  // ids existed. Unknown or already destroyed ids are fine (idempotent). INVALID_ARGUMENT (nothing
  // deleted) when any id is not kObjectIdBytes long.
  // Note: RocksDB keeps the old wrapped value in SST/WAL files until they are rewritten; call
  // Purge() to push destroyed keys out of the files.
  absl::StatusOr<uint32_t> Destroy(const std::vector<std::string>& object_ids);

  // Flushes the keys column family and compacts all of it, so the wrapped values of destroyed keys
  // leave the database files (crypto-shredding on disk). Expensive: O(size of the key store).
  absl::Status Purge();

 private:
  absl::StatusOr<std::vector<GeneratedKey>> GenerateImpl(uint32_t count, uint32_t* kek_version);
  absl::StatusOr<SecretBytes> GetImpl(absl::string_view object_id, uint32_t* kek_version);
  absl::StatusOr<uint32_t> DestroyImpl(const std::vector<std::string>& object_ids);

  KvStore* const kv_;
  DirectKvWriter direct_writer_;
  KvWriter* const writer_;
  const KekRing* const keks_;
  Clock* const clock_;
  // Serialises Destroy() so the "how many existed" count is exact under concurrent calls.
  absl::Mutex destroy_mu_;
};

}  // namespace medvault::keyservice
