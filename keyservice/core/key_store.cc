#include "keyservice/core/key_store.h"

#include <rocksdb/write_batch.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "medvault/v1/keyservice_store.pb.h"

namespace medvault::keyservice {
namespace {

// "medvault-dek-v1" || object id || kek_version (4 bytes, big-endian).
std::string AssociatedData(absl::string_view object_id, uint32_t kek_version) {
  const char version_be[4] = {static_cast<char>(kek_version >> 24),
                              static_cast<char>(kek_version >> 16),
                              static_cast<char>(kek_version >> 8), static_cast<char>(kek_version)};
  return absl::StrCat(kDekAssociatedDataPrefix, object_id, absl::string_view(version_be, 4));
}

absl::Status CheckObjectId(absl::string_view object_id, absl::string_view what) {
  if (object_id.size() != kObjectIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be ", kObjectIdBytes, " bytes, got ", object_id.size()));
  }
  return absl::OkStatus();
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string HexIds(const std::vector<std::string>& ids) {
  return absl::StrJoin(ids, ",", [](std::string* out, const std::string& id) {
    out->append(ToHex(id));
  });
}

std::string ResultName(const absl::Status& s) { return absl::StatusCodeToString(s.code()); }

}  // namespace

KeyStore::KeyStore(KvStore* kv, const KekRing* keks, Clock* clock, KvWriter* writer)
    : kv_(kv),
      direct_writer_(kv),
      writer_(writer != nullptr ? writer : &direct_writer_),
      keks_(keks),
      clock_(clock) {}

absl::StatusOr<std::vector<GeneratedKey>> KeyStore::Generate(uint32_t count) {
  uint32_t kek_version = 0;
  absl::StatusOr<std::vector<GeneratedKey>> keys = GenerateImpl(count, &kek_version);
  std::vector<std::string> ids;
  if (keys.ok()) {
    for (const GeneratedKey& k : *keys) ids.push_back(k.object_id);
  }
  MV_LOG(INFO) << "audit op=generate count=" << count << " kek_version=" << kek_version
               << " result=" << ResultName(keys.status()) << " object_ids=" << HexIds(ids);
  return keys;
}

absl::StatusOr<std::vector<GeneratedKey>> KeyStore::GenerateImpl(uint32_t count,
                                                                 uint32_t* kek_version) {
  if (count < 1 || count > kMaxGenerateCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("count must be in 1..", kMaxGenerateCount, ", got ", count));
  }
  ASSIGN_OR_RETURN(KekRef kek, keks_->Newest());
  *kek_version = kek.version;
  const int64_t now = clock_->NowMicros();

  std::vector<GeneratedKey> keys;
  keys.reserve(count);
  // 128-bit random ids never collide in practice; within a batch we check anyway.
  std::set<std::string> seen;
  rocksdb::WriteBatch batch;
  v1::WrappedDataKey record;
  std::string value;
  while (keys.size() < count) {
    ASSIGN_OR_RETURN(std::string object_id, RandomBytes(kObjectIdBytes));
    if (!seen.insert(object_id).second) continue;
    // RandomBytes' 32-byte string lives on the heap; moving it hands the buffer to SecretBytes.
    ASSIGN_OR_RETURN(std::string dek_bytes, RandomBytes(kAesKeyBytes));
    SecretBytes dek(std::move(dek_bytes));
    ASSIGN_OR_RETURN(std::string nonce, RandomBytes(kGcmNonceBytes));
    ASSIGN_OR_RETURN(
        std::string wrapped,
        AesGcmSeal(kek.key, nonce, AssociatedData(object_id, kek.version), dek.view()));
    record.set_kek_version(kek.version);
    record.set_nonce(std::move(nonce));
    record.set_wrapped_key(std::move(wrapped));
    record.set_created_micros(now);
    if (!record.SerializeToString(&value)) return absl::InternalError("serializing WrappedDataKey");
    batch.Put(kv_->cf(kKeysColumnFamily), ToSlice(object_id), ToSlice(value));
    keys.push_back(GeneratedKey{std::move(object_id), std::move(dek)});
  }
  RETURN_IF_ERROR(Annotate(writer_->Write(&batch), absl::StrCat("storing ", count, " data keys")));
  return keys;
}

absl::StatusOr<SecretBytes> KeyStore::Get(absl::string_view object_id) {
  uint32_t kek_version = 0;
  absl::StatusOr<SecretBytes> key = GetImpl(object_id, &kek_version);
  // A malformed id is logged by its length only: it is caller input of unknown meaning.
  const std::string id_text = object_id.size() == kObjectIdBytes
                                  ? ToHex(object_id)
                                  : absl::StrCat("<", object_id.size(), " bytes>");
  MV_LOG(INFO) << "audit op=release object_id=" << id_text
               << " kek_version=" << kek_version << " result=" << ResultName(key.status());
  return key;
}

absl::StatusOr<SecretBytes> KeyStore::GetImpl(absl::string_view object_id, uint32_t* kek_version) {
  RETURN_IF_ERROR(CheckObjectId(object_id, "object_id"));
  RETURN_IF_ERROR(writer_->Barrier());
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
  absl::StatusOr<KekRef> kek = keks_->Find(record.kek_version());
  if (!kek.ok()) {
    return Annotate(kek.status(), absl::StrCat("unwrapping data key of object ", id_hex));
  }
  absl::StatusOr<std::string> plain =
      AesGcmOpen(kek->key, record.nonce(), AssociatedData(object_id, kek->version),
                 record.wrapped_key());
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

absl::StatusOr<uint32_t> KeyStore::Destroy(const std::vector<std::string>& object_ids) {
  absl::StatusOr<uint32_t> destroyed = DestroyImpl(object_ids);
  std::vector<std::string> valid_ids;
  for (const std::string& id : object_ids) {
    if (id.size() == kObjectIdBytes) valid_ids.push_back(id);
  }
  MV_LOG(INFO) << "audit op=destroy requested=" << object_ids.size()
               << " destroyed=" << (destroyed.ok() ? *destroyed : 0)
               << " result=" << ResultName(destroyed.status())
               << " object_ids=" << HexIds(valid_ids);
  return destroyed;
}

absl::StatusOr<uint32_t> KeyStore::DestroyImpl(const std::vector<std::string>& object_ids) {
  for (size_t i = 0; i < object_ids.size(); ++i) {
    RETURN_IF_ERROR(CheckObjectId(object_ids[i], absl::StrCat("object_ids[", i, "]")));
  }
  const std::set<std::string> distinct(object_ids.begin(), object_ids.end());

  absl::MutexLock lock(&destroy_mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  uint32_t existing = 0;
  rocksdb::WriteBatch batch;
  for (const std::string& id : distinct) {
    absl::StatusOr<std::string> value = kv_->Get(kKeysColumnFamily, id);
    if (absl::IsNotFound(value.status())) continue;
    RETURN_IF_ERROR(Annotate(value.status(), absl::StrCat("looking up object ", ToHex(id))));
    ++existing;
    batch.Delete(kv_->cf(kKeysColumnFamily), ToSlice(id));
  }
  if (existing == 0) return 0u;
  RETURN_IF_ERROR(
      Annotate(writer_->Write(&batch), absl::StrCat("destroying ", existing, " data keys")));
  return existing;
}

absl::Status KeyStore::Purge() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(FromRocksStatus(kv_->db()->Flush(flush, kv_->cf(kKeysColumnFamily)),
                                  "flushing the keys column family"));
  // Every object id is exactly 16 bytes, so [16 x 0x00, 17 x 0xff) covers them all.
  const std::string begin(kObjectIdBytes, '\0');
  const std::string end(kObjectIdBytes + 1, '\xff');
  RETURN_IF_ERROR(kv_->CompactRange(kKeysColumnFamily, begin, end));
  MV_LOG(INFO) << "audit op=purge result=OK";
  return absl::OkStatus();
}

}  // namespace medvault::keyservice
