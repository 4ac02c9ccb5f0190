#include "keyservice/core/key_store.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "keyservice/core/audit_chain.h"

namespace medvault::keyservice {
namespace {

constexpr char kKekStateKey[] = "kek_state";

absl::Status CheckObjectId(absl::string_view object_id, absl::string_view what) {
  if (object_id.size() != kObjectIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be ", kObjectIdBytes, " bytes, got ", object_id.size()));
  }
  return absl::OkStatus();
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string ResultName(const absl::Status& s) { return absl::StatusCodeToString(s.code()); }

}  // namespace

bool IsRetired(const v1::KekState& state, uint32_t version) {
  return std::find(state.retired_versions().begin(), state.retired_versions().end(), version) !=
         state.retired_versions().end();
}

absl::Status SealDataKey(const KekRef& kek, absl::string_view object_id, absl::string_view dek,
                         v1::WrappedDataKey* record) {
  ASSIGN_OR_RETURN(std::string nonce, RandomBytes(kGcmNonceBytes));
  ASSIGN_OR_RETURN(std::string wrapped,
                   AesGcmSeal(kek.key, nonce, DekAssociatedData(object_id, kek.version), dek));
  record->set_kek_version(kek.version);
  record->set_nonce(std::move(nonce));
  record->set_wrapped_key(std::move(wrapped));
  return absl::OkStatus();
}

std::vector<std::string> KeyStoreColumnFamilies() {
  return {kKeysColumnFamily,          kKekStateColumnFamily,   kAuditColumnFamily,
          kAuditByObjectColumnFamily, kAuditChainColumnFamily, kAuditHeadsColumnFamily};
}

std::string DekAssociatedData(absl::string_view object_id, uint32_t kek_version) {
  const char version_be[4] = {static_cast<char>(kek_version >> 24),
                              static_cast<char>(kek_version >> 16),
                              static_cast<char>(kek_version >> 8), static_cast<char>(kek_version)};
  return absl::StrCat(kDekAssociatedDataPrefix, object_id, absl::string_view(version_be, 4));
}

KeyStore::KeyStore(KvStore* kv, const KekRing* keks, Clock* clock, KvWriter* writer)
    : kv_(kv),
      direct_writer_(kv),
      writer_(writer != nullptr ? writer : &direct_writer_),
      keks_(keks),
      clock_(clock),
      audit_(kv, writer_, clock) {}

absl::StatusOr<v1::KekState> KeyStore::ReadKekState() {
  v1::KekState state;
  absl::StatusOr<std::string> value = kv_->Get(kKekStateColumnFamily, kKekStateKey);
  if (absl::IsNotFound(value.status())) return state;
  RETURN_IF_ERROR(Annotate(value.status(), "reading the KEK state"));
  if (!state.ParseFromString(*value)) return absl::DataLossError("the stored KEK state is corrupt");
  return state;
}

absl::Status KeyStore::StageKekState(const v1::KekState& state, rocksdb::WriteBatch* batch) {
  std::string value;
  if (!state.SerializeToString(&value)) return absl::InternalError("serializing the KEK state");
  batch->Put(kv_->cf(kKekStateColumnFamily), kKekStateKey, ToSlice(value));
  return absl::OkStatus();
}

absl::StatusOr<KekRef> KeyStore::ActiveKekForWrite(rocksdb::WriteBatch* batch) {
  ASSIGN_OR_RETURN(v1::KekState state, ReadKekState());
  if (state.active_version() != 0) {
    absl::StatusOr<KekRef> kek = keks_->Find(state.active_version());
    if (!kek.ok()) return Annotate(kek.status(), "the active KEK version");
    return kek;
  }
  ASSIGN_OR_RETURN(KekRef newest, keks_->Newest());
  state.set_active_version(newest.version);
  (*state.mutable_activated_micros())[newest.version] = clock_->NowMicros();
  RETURN_IF_ERROR(StageKekState(state, batch));
  return newest;
}

absl::StatusOr<std::vector<GeneratedKey>> KeyStore::Generate(uint32_t count, const AuditInfo& who) {
  v1::AuditRecord record = audit_.NewRecord("generate", who);
  absl::StatusOr<std::vector<GeneratedKey>> keys = GenerateImpl(count, &record);
  record.set_result(ResultName(keys.status()));
  AuditLog::Log(record);
  return keys;
}

absl::StatusOr<std::vector<GeneratedKey>> KeyStore::GenerateImpl(uint32_t count,
                                                                 v1::AuditRecord* record) {
  if (count < 1 || count > kMaxGenerateCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("count must be in 1..", kMaxGenerateCount, ", got ", count));
  }
  // Shared: generations do not conflict with each other, only with a change of active version.
  absl::ReaderMutexLock lock(&write_mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  rocksdb::WriteBatch batch;
  ASSIGN_OR_RETURN(KekRef kek, ActiveKekForWrite(&batch));
  record->set_kek_version(kek.version);
  const int64_t now = clock_->NowMicros();

  std::vector<GeneratedKey> keys;
  keys.reserve(count);
  // 128-bit random ids never collide in practice; within a batch we check anyway.
  std::set<std::string> seen;
  v1::WrappedDataKey wrapped_record;
  std::string value;
  while (keys.size() < count) {
    ASSIGN_OR_RETURN(std::string object_id, RandomBytes(kObjectIdBytes));
    if (!seen.insert(object_id).second) continue;
    // RandomBytes' 32-byte string lives on the heap; moving it hands the buffer to SecretBytes.
    ASSIGN_OR_RETURN(std::string dek_bytes, RandomBytes(kAesKeyBytes));
    SecretBytes dek(std::move(dek_bytes));
    RETURN_IF_ERROR(SealDataKey(kek, object_id, dek.view(), &wrapped_record));
    wrapped_record.set_created_micros(now);
    if (!wrapped_record.SerializeToString(&value))
      return absl::InternalError("serializing WrappedDataKey");
    batch.Put(kv_->cf(kKeysColumnFamily), ToSlice(object_id), ToSlice(value));
    record->add_object_ids(object_id);
    keys.push_back(GeneratedKey{std::move(object_id), std::move(dek)});
  }
  record->set_result("OK");
  RETURN_IF_ERROR(audit_.Stage(*record, &batch));
  RETURN_IF_ERROR(Annotate(audit_.Commit(&batch), absl::StrCat("storing ", count, " data keys")));
  return keys;
}

absl::StatusOr<SecretBytes> KeyStore::Get(absl::string_view object_id, const AuditInfo& who) {
  v1::AuditRecord record = audit_.NewRecord("release", who);
  if (object_id.size() == kObjectIdBytes) record.add_object_ids(std::string(object_id));
  uint32_t kek_version = 0;
  // Planned from this replica's state as it stands, without a ReadIndex barrier: the commit of
  // the audit record below proves this replica leads, and once it is applied here the state holds
  // every entry committed before it, so the key is read again then and only that read is
  // released (read-after-commit). A refusal is confirmed behind a barrier first: a replica's
  // state may lag what is committed (a key generated moments ago through a former leader).
  absl::StatusOr<SecretBytes> key = GetImpl(object_id, /*barrier=*/false, &kek_version);
  if (!key.ok() && !absl::IsInvalidArgument(key.status())) {
    key = GetImpl(object_id, /*barrier=*/true, &kek_version);
  }
  record.set_kek_version(kek_version);
  record.set_result(ResultName(key.status()));
  // A malformed id names no object: only the log line records the attempt.
  if (record.object_ids_size() > 0) {
    absl::Status recorded = audit_.Append(record);
    if (!recorded.ok()) {
      if (key.ok()) key->Wipe();
      record.set_result(
          absl::StrCat("UNAVAILABLE (audit write failed: ", ResultName(recorded), ")"));
      AuditLog::Log(record);
      if (!key.ok()) return key;
      return absl::UnavailableError(absl::StrCat(
          "the audit record of this release could not be written, so the key is not released: ",
          recorded.message()));
    }
    if (key.ok()) {
      key->Wipe();
      uint32_t unused_version = 0;
      key = GetImpl(object_id, /*barrier=*/false, &unused_version);
      if (!key.ok()) {
        // Destroyed (or its KEK retired) by an entry committed before the audit record: the
        // release recorded above did not happen, and a second record says so.
        AuditLog::Log(record);
        VoidRelease(record, key.status());
        return key;
      }
    }
  }
  AuditLog::Log(record);
  return key;
}

void KeyStore::VoidRelease(const v1::AuditRecord& released, const absl::Status& why) {
  v1::AuditRecord voided = audit_.NewRecord(
      "void_release",
      AuditInfo{released.caller(), released.on_behalf_of(), released.purpose(), released.peer()});
  *voided.mutable_object_ids() = released.object_ids();
  voided.set_kek_version(released.kek_version());
  voided.set_result(ResultName(why));
  absl::Status recorded = audit_.Append(voided);
  if (!recorded.ok()) {
    voided.set_result(absl::StrCat(
        voided.result(), " (this record could not be written: ", ResultName(recorded), ")"));
  }
  AuditLog::Log(voided);
}

absl::StatusOr<SecretBytes> KeyStore::GetImpl(absl::string_view object_id, bool barrier,
                                              uint32_t* kek_version) {
  RETURN_IF_ERROR(CheckObjectId(object_id, "object_id"));
  if (barrier) RETURN_IF_ERROR(writer_->Barrier());
  const std::string id_hex = ToHex(object_id);
  absl::StatusOr<std::string> value = kv_->Get(kKeysColumnFamily, object_id);
  if (absl::IsNotFound(value.status())) {
    return absl::NotFoundError(absl::StrCat("no data key for object ", id_hex));
  }
  RETURN_IF_ERROR(Annotate(value.status(), absl::StrCat("reading data key of object ", id_hex)));

  v1::WrappedDataKey record;
  if (!record.ParseFromString(*value)) {
    return absl::DataLossError(absl::StrCat("stored data key of object ", id_hex, " is corrupt"));
  }
  *kek_version = record.kek_version();
  if (record.nonce().size() != kGcmNonceBytes) {
    return absl::DataLossError(
        absl::StrCat("stored data key of object ", id_hex, " has a bad nonce length"));
  }
  ASSIGN_OR_RETURN(v1::KekState state, ReadKekState());
  if (IsRetired(state, record.kek_version())) {
    return absl::FailedPreconditionError(absl::StrCat("data key of object ", id_hex,
                                                      " is wrapped under retired KEK version ",
                                                      record.kek_version()));
  }
  absl::StatusOr<KekRef> kek = keks_->Find(record.kek_version());
  if (!kek.ok()) {
    return Annotate(kek.status(), absl::StrCat("unwrapping data key of object ", id_hex));
  }
  absl::StatusOr<std::string> plain = AesGcmOpen(
      kek->key, record.nonce(), DekAssociatedData(object_id, kek->version), record.wrapped_key());
  if (!plain.ok()) {
    return Annotate(plain.status(), absl::StrCat("unwrapping data key of object ", id_hex));
  }
  SecretBytes dek(std::move(*plain));
  if (dek.size() != kAesKeyBytes) {
    return absl::DataLossError(
        absl::StrCat("stored data key of object ", id_hex, " has the wrong length"));
  }
  return dek;
}

absl::StatusOr<uint32_t> KeyStore::Destroy(const std::vector<std::string>& object_ids,
                                           const AuditInfo& who) {
  v1::AuditRecord record = audit_.NewRecord("destroy", who);
  absl::StatusOr<uint32_t> destroyed = DestroyImpl(object_ids, &record);
  record.set_result(ResultName(destroyed.status()));
  AuditLog::Log(record);
  return destroyed;
}

absl::StatusOr<uint32_t> KeyStore::DestroyImpl(const std::vector<std::string>& object_ids,
                                               v1::AuditRecord* record) {
  for (size_t i = 0; i < object_ids.size(); ++i) {
    RETURN_IF_ERROR(CheckObjectId(object_ids[i], absl::StrCat("object_ids[", i, "]")));
  }
  const std::set<std::string> distinct(object_ids.begin(), object_ids.end());

  absl::MutexLock lock(&write_mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  uint32_t existing = 0;
  rocksdb::WriteBatch batch;
  for (const std::string& id : distinct) {
    absl::StatusOr<std::string> value = kv_->Get(kKeysColumnFamily, id);
    if (absl::IsNotFound(value.status())) continue;
    RETURN_IF_ERROR(Annotate(value.status(), absl::StrCat("looking up object ", ToHex(id))));
    ++existing;
    batch.Delete(kv_->cf(kKeysColumnFamily), ToSlice(id));
    record->add_object_ids(id);
  }
  if (existing == 0) return 0u;
  record->set_result("OK");
  RETURN_IF_ERROR(audit_.Stage(*record, &batch));
  RETURN_IF_ERROR(
      Annotate(audit_.Commit(&batch), absl::StrCat("destroying ", existing, " data keys")));
  return existing;
}

void KeyStore::RecordDenial(const AuditInfo& who, const absl::Status& why,
                            const std::vector<std::string>& object_ids) {
  v1::AuditRecord record = audit_.NewRecord("deny", who);
  for (const std::string& id : object_ids) {
    if (id.size() == kObjectIdBytes) record.add_object_ids(id);
  }
  record.set_result(ResultName(why));
  absl::Status recorded = audit_.Append(record);
  if (!recorded.ok()) {
    MV_LOG(WARNING) << "could not write the audit record of a denied call: " << recorded.code();
  }
  AuditLog::Log(record);
}

absl::Status KeyStore::RecordShareEvent(const AuditInfo& who, const std::string& result) {
  constexpr size_t kMaxPurpose = 200;
  if (who.purpose.empty() || who.purpose.size() > kMaxPurpose)
    return absl::InvalidArgumentError("purpose must be 1..200 bytes");
  for (const std::string* text : {&who.purpose, &who.on_behalf_of, &who.peer}) {
    for (char c : *text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return absl::InvalidArgumentError("the audit context contains a control character");
    }
  }
  bool known = false;
  for (int code = 0; code <= 16; ++code) {
    known = known || result == absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  }
  if (!known) return absl::InvalidArgumentError("result must be a status code name");
  v1::AuditRecord record = audit_.NewRecord("share", who);
  record.set_result(result);
  absl::Status recorded = audit_.Append(record);
  if (!recorded.ok()) return recorded;
  AuditLog::Log(record);
  return absl::OkStatus();
}

}  // namespace medvault::keyservice
