// The key service's store of data keys (DEKs): one random 256-bit DEK per object id, kept in
// RocksDB only wrapped (AES-256-GCM) under the active version of a KekRing and bound to its object
// id and KEK version; KEK rotation (rewrap every DEK under a new version, then retire the old one);
// and an audit record for every generation, release and destruction, committed with it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/kv.h"
#include "keyservice/core/audit_log.h"
#include "keyservice/core/kek.h"
#include "medvault/v1/keyservice_store.pb.h"

namespace medvault::keyservice {

// Column family holding the wrapped keys: key = 16-byte object id, value = WrappedDataKey.
inline constexpr char kKeysColumnFamily[] = "keys";
// Column family holding the one KekState record.
inline constexpr char kKekStateColumnFamily[] = "kek_state";
inline constexpr size_t kObjectIdBytes = 16;
// Generate() accepts 1..kMaxGenerateCount keys per call.
inline constexpr uint32_t kMaxGenerateCount = 1000;
// GetMany() releases 1..kMaxReleaseCount keys per call.
inline constexpr uint32_t kMaxReleaseCount = 1000;
// Prefix of the associated data that binds a wrapped DEK to its object id and KEK version:
// "medvault-dek-v1" || object id || kek_version (4 bytes, big-endian).
inline constexpr char kDekAssociatedDataPrefix[] = "medvault-dek-v1";

// Every column family the key store uses (all replicated by the key service's Raft group).
std::vector<std::string> KeyStoreColumnFamilies();

// A fresh DEK and the object id it belongs to.
struct GeneratedKey {
  std::string object_id;  // kObjectIdBytes random bytes
  SecretBytes key;        // kAesKeyBytes; wiped when this struct dies
};

// How many stored keys each KEK version wraps.
struct KekCensus {
  v1::KekState state;
  std::map<uint32_t, uint64_t> keys_by_version;
  uint64_t total = 0;
  uint64_t to_rewrap = 0;  // keys not under the active version
};

// One step of the background rewrap.
struct RewrapStep {
  std::string next;  // object id to continue after; empty when the scan reached the end
  uint64_t scanned = 0;
  uint64_t rewrapped = 0;
};

// Thread-safe. Errors never carry key bytes; they may carry object ids in hex.
class KeyStore {
 public:
  // REQUIRES: `kv` was opened with KeyStoreColumnFamilies(). Does not take ownership; all must
  // outlive the store. Writes go through `writer` (null: straight to `kv`); reads and every
  // read-modify-write first take its barrier, so a replicated key service answers from current
  // state.
  KeyStore(KvStore* kv, const KekRing* keks, Clock* clock, KvWriter* writer = nullptr);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Generates `count` DEKs from the CSPRNG under fresh random object ids, wraps each under the
  // active KEK and writes them, with their audit record, in one synchronous batch: when this
  // returns OK every key is durable; on error none was stored. The first generation pins the
  // newest KEK this store holds as the active one. INVALID_ARGUMENT unless
  // 1 <= count <= kMaxGenerateCount; FAILED_PRECONDITION when the active KEK is not loaded; the
  // writer's error when the write fails.
  absl::StatusOr<std::vector<GeneratedKey>> Generate(uint32_t count, const AuditInfo& who = {});

  // The DEK of `object_id`, released only after its audit record is durable, and as stored once
  // that record is applied (a key destroyed before the record committed is not released, and a
  // second record voids the first). INVALID_ARGUMENT
  // unless it is kObjectIdBytes long; NOT_FOUND when it never existed or was destroyed;
  // FAILED_PRECONDITION when it was wrapped under a KEK version this store does not hold or that
  // was retired; DATA_LOSS when the record is corrupt or does not authenticate (wrong KEK, tampered
  // bytes, or a record moved to another object id); UNAVAILABLE (and no key) when the audit record
  // cannot be written.
  absl::StatusOr<SecretBytes> Get(absl::string_view object_id, const AuditInfo& who = {});

  // The DEKs of many objects (a set being retrieved), released under one audit record for the
  // set (key_store_release.cc): op=release naming every object released, and, in the same write,
  // a record per refusal code naming the objects refused (NOT_FOUND, FAILED_PRECONDITION,
  // DATA_LOSS as Get() says), so one replicated write covers the set. One entry per requested id,
  // in order: its key, or why it alone was refused. As Get(): keys are read again once the
  // records are applied, and a key destroyed meanwhile is refused and its release voided.
  // INVALID_ARGUMENT (nothing released) for no id, more than kMaxReleaseCount, or an id not
  // kObjectIdBytes long; UNAVAILABLE (no key) when the audit write fails.
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GetMany(
      const std::vector<std::string>& object_ids, const AuditInfo& who = {});

  // Deletes the DEKs of `object_ids` with their audit record in one synchronous batch and returns
  // how many of the distinct ids existed. Unknown or already destroyed ids are fine (idempotent).
  // INVALID_ARGUMENT (nothing deleted) when any id is not kObjectIdBytes long.
  // Note: RocksDB keeps the old wrapped value in its files until they are rewritten; the Shredder
  // pushes destroyed keys out of them.
  absl::StatusOr<uint32_t> Destroy(const std::vector<std::string>& object_ids,
                                   const AuditInfo& who = {});

  // Records a refused call, and the objects it asked about, in the audit log (best effort: the
  // call is refused either way). Ids that are not kObjectIdBytes long are left out.
  void RecordDenial(const AuditInfo& who, const absl::Status& why,
                    const std::vector<std::string>& object_ids = {});

  // Records a share event the frontend handled (op=share: a redemption, a revocation, an unlock;
  // `who.purpose` says which and how it ended, `result` is a status code name), durably and
  // replicated. INVALID_ARGUMENT for a result that is not a status code name or a purpose that is
  // empty, longer than 200 bytes or holds a control character (nothing is written); the writer's
  // error when it cannot write.
  absl::Status RecordShareEvent(const AuditInfo& who, const std::string& result);

  // --- KEK rotation (key_store_rotation.cc) ---

  // The replicated KEK state (active version 0 until the first generation).
  absl::StatusOr<v1::KekState> KekStateNow();
  // Makes `version` active: new keys are wrapped under it and RewrapSome() moves old ones to it.
  // FAILED_PRECONDITION when the ring does not hold it or it was retired.
  absl::Status Rotate(uint32_t version, const AuditInfo& who);
  // Retires `version`. FAILED_PRECONDITION while it is active or wraps any stored key.
  absl::Status Retire(uint32_t version, const AuditInfo& who);
  // Rewraps up to `max_rewrap` keys found after object id `after` (empty: from the start) that are
  // not under the active version, scanning at most 16 x `max_rewrap` records, in one batch.
  // Serialised with Destroy, so a destroyed key is never written back.
  absl::StatusOr<RewrapStep> RewrapSome(const std::string& after, size_t max_rewrap);
  // Counts the stored keys per KEK version (a full scan).
  absl::StatusOr<KekCensus> Census();

  // KEK versions this store's ring holds, ascending.
  std::vector<uint32_t> kek_versions() const { return keks_->versions(); }

  AuditLog* audit() { return &audit_; }

 private:
  absl::StatusOr<std::vector<GeneratedKey>> GenerateImpl(uint32_t count, v1::AuditRecord* record);
  // The DEK of `object_id` from local state, after the writer's barrier when `barrier`.
  absl::StatusOr<SecretBytes> GetImpl(absl::string_view object_id, bool barrier,
                                      uint32_t* kek_version);
  // Appends (best effort) and logs a record that `released`, already recorded, did not happen.
  void VoidRelease(const v1::AuditRecord& released, const absl::Status& why);
  // Census() without the barrier, for callers that already took it.
  absl::StatusOr<KekCensus> CensusAfterBarrier();
  absl::StatusOr<uint32_t> DestroyImpl(const std::vector<std::string>& object_ids,
                                       v1::AuditRecord* record);
  // The stored KekState (no barrier). Default (all zero) when none was written.
  absl::StatusOr<v1::KekState> ReadKekState();
  // The KEK that wraps new keys; when none is pinned yet, pins the ring's newest in `batch`.
  absl::StatusOr<KekRef> ActiveKekForWrite(rocksdb::WriteBatch* batch);
  absl::Status StageKekState(const v1::KekState& state, rocksdb::WriteBatch* batch);

  KvStore* const kv_;
  DirectKvWriter direct_writer_;
  KvWriter* const writer_;
  const KekRing* const keks_;
  Clock* const clock_;
  AuditLog audit_;
  // Serialises every read-modify-write of the key records and the KEK state (Generate's pinning,
  // Destroy, rewrap, rotate, retire), so counts are exact and a destroyed key is never rewritten.
  absl::Mutex write_mu_;
};

// "medvault-dek-v1" || object id || kek_version (4 bytes, big-endian).
std::string DekAssociatedData(absl::string_view object_id, uint32_t kek_version);

// Wraps `dek` for `object_id` under `kek` with a fresh nonce: sets the record's KEK version, nonce
// and wrapped key (the one place a DEK is wrapped: generation and rewrap).
absl::Status SealDataKey(const KekRef& kek, absl::string_view object_id, absl::string_view dek,
                         v1::WrappedDataKey* record);

// Whether `state` lists `version` as retired.
bool IsRetired(const v1::KekState& state, uint32_t version);

}  // namespace medvault::keyservice
