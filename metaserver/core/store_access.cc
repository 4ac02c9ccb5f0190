#include "metaserver/core/store_access.h"

#include "absl/strings/str_cat.h"

namespace medvault::metaserver {

KvReader::KvReader(KvStore* kv, rocksdb::WriteBatchWithIndex* overlay)
    : kv_(kv), overlay_(overlay), snapshot_(kv->db()->GetSnapshot()) {
  options_.snapshot = snapshot_;
}

KvReader::~KvReader() { kv_->db()->ReleaseSnapshot(snapshot_); }

absl::StatusOr<std::string> KvReader::Get(const std::string& cf, absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      overlay_ != nullptr
          ? overlay_->GetFromBatchAndDB(kv_->db(), options_, kv_->cf(cf), ToSlice(key), &value)
          : kv_->db()->Get(options_, kv_->cf(cf), ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError("not found");
  if (!s.ok()) return FromRocksStatus(s, absl::StrCat("reading ", cf));
  return value;
}

absl::StatusOr<bool> KvReader::Exists(const std::string& cf, absl::string_view key) const {
  absl::StatusOr<std::string> value = Get(cf, key);
  if (value.ok()) return true;
  if (absl::IsNotFound(value.status())) return false;
  return value.status();
}

absl::Status KvReader::ScanPrefix(
    const std::string& cf, absl::string_view prefix,
    const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it = NewIterator(cf);
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, absl::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocksStatus(it->status(), absl::StrCat("scanning ", cf));
}

std::unique_ptr<rocksdb::Iterator> KvReader::NewIterator(const std::string& cf) const {
  return std::unique_ptr<rocksdb::Iterator>(kv_->db()->NewIterator(options_, kv_->cf(cf)));
}

absl::Status KvReader::CorruptRecord(const std::string& cf) {
  return absl::DataLossError(absl::StrCat("corrupt record in column family ", cf));
}

}  // namespace medvault::metaserver
