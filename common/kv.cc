#include "common/kv.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace medvault {

absl::Status FromRocksStatus(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(msg);
  if (s.IsIOError() && s.subcode() == rocksdb::Status::kNoSpace)
    return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(
    const std::string& path, const std::vector<std::string>& column_families) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  // Keys hold DICOM UIDs and patient ids (metaserver index). RocksDB's info log prints the key
  // ranges of manual compactions (hex), so it logs only warnings and errors; and every change to
  // the set of files starts a new MANIFEST holding only the live files' key boundaries, so the
  // boundaries of rewritten files (keys of deleted entries) do not linger in an append-only
  // manifest. A new manifest costs one small write per flush or compaction.
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.max_manifest_file_size = 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const auto& name : column_families) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::unique_ptr<KvStore> kv(new KvStore());
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &kv->handles_, &db);
  if (!s.ok()) return FromRocksStatus(s, absl::StrCat("opening RocksDB at ", path));
  kv->db_.reset(db);
  for (size_t i = 0; i < descriptors.size(); ++i) kv->cfs_[descriptors[i].name] = kv->handles_[i];
  return kv;
}

KvStore::~KvStore() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

rocksdb::ColumnFamilyHandle* KvStore::cf(const std::string& name) const {
  auto it = cfs_.find(name);
  if (it == cfs_.end()) {
    MV_LOG(ERROR) << "unknown column family " << name;
    std::abort();
  }
  return it->second;
}

absl::StatusOr<std::string> KvStore::Get(const std::string& cf_name, absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(cf_name), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError("not found");
  if (!s.ok()) return FromRocksStatus(s, "RocksDB get");
  return value;
}

absl::Status KvStore::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocksStatus(db_->Write(wo, batch), "RocksDB write");
}

absl::Status KvStore::WriteBuffered(rocksdb::WriteBatch* batch) {
  return FromRocksStatus(db_->Write(rocksdb::WriteOptions(), batch), "RocksDB write");
}

std::unique_ptr<rocksdb::Iterator> KvStore::NewIterator(const std::string& cf_name) const {
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_name)));
}

absl::Status KvStore::CompactRange(const std::string& cf_name, absl::string_view begin,
                                   absl::string_view end) {
  rocksdb::Slice b(begin.data(), begin.size()), e(end.data(), end.size());
  rocksdb::CompactRangeOptions opts;
  opts.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocksStatus(db_->CompactRange(opts, cf(cf_name), &b, &e), "RocksDB compaction");
}

}  // namespace medvault
