// KEK rotation: the active version, rewrapping stored keys under it, retiring old versions.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// How many records RewrapSome() may scan per key it may rewrap.
constexpr size_t kScanPerRewrap = 16;

}  // namespace

absl::StatusOr<v1::KekState> KeyStore::KekStateNow() {
  RETURN_IF_ERROR(writer_->Barrier());
  return ReadKekState();
}

absl::Status KeyStore::Rotate(uint32_t version, const AuditInfo& who) {
  v1::AuditRecord record = audit_.NewRecord("rotate", who);
  record.set_kek_version(version);
  absl::Status result = [&]() -> absl::Status {
    absl::MutexLock lock(&write_mu_);
    RETURN_IF_ERROR(writer_->Barrier());
    ASSIGN_OR_RETURN(v1::KekState state, ReadKekState());
    if (IsRetired(state, version)) {
      return absl::FailedPreconditionError(absl::StrCat("KEK version ", version, " was retired"));
    }
    RETURN_IF_ERROR(keks_->Find(version).status());
    if (state.active_version() != version) {
      (*state.mutable_activated_micros())[version] = clock_->NowMicros();
    }
    state.set_active_version(version);
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(StageKekState(state, &batch));
    record.set_result("OK");
    RETURN_IF_ERROR(audit_.Stage(record, &batch));
    return Annotate(audit_.Commit(&batch), "recording the active KEK version");
  }();
  record.set_result(absl::StatusCodeToString(result.code()));
  AuditLog::Log(record);
  return result;
}

absl::Status KeyStore::Retire(uint32_t version, const AuditInfo& who) {
  v1::AuditRecord record = audit_.NewRecord("retire", who);
  record.set_kek_version(version);
  absl::Status result = [&]() -> absl::Status {
    // Exclusive: no generation, rewrap or rotation can add a key under `version` meanwhile.
    absl::MutexLock lock(&write_mu_);
    RETURN_IF_ERROR(writer_->Barrier());
    if (version == 0) return absl::InvalidArgumentError("KEK version must be positive");
    ASSIGN_OR_RETURN(KekCensus census, CensusAfterBarrier());
    v1::KekState& state = census.state;
    if (state.active_version() == version) {
      return absl::FailedPreconditionError(
          absl::StrCat("KEK version ", version, " is the active version; rotate to another first"));
    }
    if (IsRetired(state, version)) return absl::OkStatus();  // retiring twice is a no-op
    const uint64_t still_wrapped = census.keys_by_version[version];
    if (still_wrapped > 0) {
      return absl::FailedPreconditionError(absl::StrCat("KEK version ", version, " still wraps ",
                                                        still_wrapped,
                                                        " data keys; wait for the rewrap"));
    }
    state.add_retired_versions(version);
    std::sort(state.mutable_retired_versions()->begin(), state.mutable_retired_versions()->end());
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(StageKekState(state, &batch));
    record.set_result("OK");
    RETURN_IF_ERROR(audit_.Stage(record, &batch));
    return Annotate(audit_.Commit(&batch), "recording the retired KEK version");
  }();
  record.set_result(absl::StatusCodeToString(result.code()));
  AuditLog::Log(record);
  return result;
}

absl::StatusOr<RewrapStep> KeyStore::RewrapSome(const std::string& after, size_t max_rewrap) {
  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  ASSIGN_OR_RETURN(v1::KekState state, ReadKekState());
  RewrapStep step;
  if (state.active_version() == 0) return step;  // nothing generated yet
  ASSIGN_OR_RETURN(KekRef active, keks_->Find(state.active_version()));

  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it = kv_->NewIterator(kKeysColumnFamily);
  v1::WrappedDataKey stored;
  std::string value;
  it->Seek(ToSlice(after));
  if (!after.empty() && it->Valid() && it->key() == ToSlice(after)) it->Next();
  for (; it->Valid(); it->Next()) {
    if (step.rewrapped == max_rewrap || step.scanned == kScanPerRewrap * max_rewrap) {
      break;  // `next` stays the last key handled
    }
    ++step.scanned;
    const std::string id = it->key().ToString();
    step.next = id;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      MV_LOG(ERROR) << "rewrap: stored data key of object " << ToHex(id) << " is corrupt; skipped";
      continue;
    }
    if (stored.kek_version() == active.version) continue;
    absl::StatusOr<KekRef> old = keks_->Find(stored.kek_version());
    if (!old.ok()) {
      MV_LOG(ERROR) << "rewrap: object " << ToHex(id) << " is wrapped under KEK version "
                    << stored.kek_version() << ", which is not loaded; skipped";
      continue;
    }
    absl::StatusOr<std::string> plain = AesGcmOpen(
        old->key, stored.nonce(), DekAssociatedData(id, old->version), stored.wrapped_key());
    if (!plain.ok()) {
      MV_LOG(ERROR) << "rewrap: data key of object " << ToHex(id)
                    << " does not authenticate; skipped";
      continue;
    }
    SecretBytes dek(std::move(*plain));
    RETURN_IF_ERROR(SealDataKey(active, id, dek.view(), &stored));
    if (!stored.SerializeToString(&value)) return absl::InternalError("serializing WrappedDataKey");
    batch.Put(kv_->cf(kKeysColumnFamily), ToSlice(id), ToSlice(value));
    ++step.rewrapped;
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the data keys"));
  if (!it->Valid()) step.next.clear();  // reached the end
  if (step.rewrapped > 0) {
    RETURN_IF_ERROR(Annotate(writer_->Write(&batch),
                             absl::StrCat("rewrapping ", step.rewrapped, " data keys")));
  }
  return step;
}

absl::StatusOr<KekCensus> KeyStore::Census() {
  RETURN_IF_ERROR(writer_->Barrier());
  return CensusAfterBarrier();
}

absl::StatusOr<KekCensus> KeyStore::CensusAfterBarrier() {
  KekCensus census;
  ASSIGN_OR_RETURN(census.state, ReadKekState());
  std::unique_ptr<rocksdb::Iterator> it = kv_->NewIterator(kKeysColumnFamily);
  v1::WrappedDataKey stored;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++census.total;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) continue;
    ++census.keys_by_version[stored.kek_version()];
    if (stored.kek_version() != census.state.active_version()) ++census.to_rewrap;
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the data keys"));
  return census;
}

}  // namespace medvault::keyservice
