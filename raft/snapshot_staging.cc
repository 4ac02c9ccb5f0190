#include "raft/snapshot_staging.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/process_tuning.h"
#include "common/status_macros.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft {
namespace {

constexpr char kStagedKey[] = "staged_snapshot";          // a complete snapshot waits in staging
constexpr char kInstallingKey[] = "installing_snapshot";  // staging is being copied in
constexpr size_t kBatchBytes = 4 << 20;
// The memtables a snapshot fills are flushed every this many bytes: RocksDB would otherwise keep up
// to two write buffers of 64 MiB per column family in memory, so the memory a big snapshot takes
// would grow with it up to that. After each flush the freed heap goes back to the kernel (see
// ReleaseFreeHeap): the peak is then about one flush's worth of memtable and pieces in flight.
constexpr size_t kFlushBytes = 8 << 20;

// Past every key: an empty end key would not cover keys starting with 0xff bytes.
std::string EndOfKeys() { return std::string(1024, '\xff'); }

absl::StatusOr<SnapshotMeta> ReadMarker(KvStore* kv, const char* key) {
  absl::StatusOr<std::string> bytes = kv->Get(kRaftMetaCf, key);
  if (!bytes.ok()) return bytes.status();
  SnapshotMeta meta;
  if (!meta.ParseFromString(*bytes))
    return absl::DataLossError(absl::StrCat("raft ", key, " marker does not parse"));
  return meta;
}

}  // namespace

absl::Status SnapshotStaging::Begin() {
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocksStatus(batch.Delete(kv_->cf(kRaftMetaCf), kStagedKey),
                                  "dropping an old staged snapshot"));
  RETURN_IF_ERROR(FromRocksStatus(batch.DeleteRange(kv_->cf(kRaftStagingCf), "", EndOfKeys()),
                                  "dropping an old staged snapshot"));
  RETURN_IF_ERROR(kv_->WriteBuffered(&batch));
  started_ = false;
  complete_ = false;
  meta_.Clear();
  records_ = 0;
  unflushed_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<bool> SnapshotStaging::Add(const v1::RaftBackupPiece& piece) {
  absl::MutexLock lock(&mu_);
  if (complete_) return absl::InvalidArgumentError("snapshot piece after the last one");
  if (!started_) {
    if (!piece.has_meta() || piece.meta().index() == 0)
      return absl::InvalidArgumentError("snapshot stream does not start with its position");
    meta_ = piece.meta();
    started_ = true;
  } else if (piece.has_meta()) {
    return absl::InvalidArgumentError("snapshot piece carries a position after the first");
  }
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* staging = kv_->cf(kRaftStagingCf);
  for (const v1::RaftKvWrite& w : piece.writes()) {
    if (w.op() != v1::RaftKvWrite::PUT)
      return absl::InvalidArgumentError("snapshot holds a non-PUT write");
    if (std::find(state_cfs_.begin(), state_cfs_.end(), w.cf()) == state_cfs_.end())
      return absl::InvalidArgumentError("snapshot writes a column family that is not replicated");
    std::string key = w.cf();
    key.push_back('\0');
    key.append(w.key());
    RETURN_IF_ERROR(FromRocksStatus(batch.Put(staging, key, w.value()), "staging a snapshot"));
    ++records_;
  }
  if (piece.last()) {
    if (piece.records() != records_) {
      return absl::DataLossError(absl::StrCat("snapshot stream ends after ", records_, " of ",
                                              piece.records(), " records"));
    }
    RETURN_IF_ERROR(
        FromRocksStatus(batch.Put(kv_->cf(kRaftMetaCf), kStagedKey, meta_.SerializeAsString()),
                        "staging a snapshot"));
    // Synced: persists every buffered piece before it, in order (one write-ahead log).
    RETURN_IF_ERROR(kv_->Write(&batch));
    complete_ = true;
    // The memtable holding the staged records is written out now rather than kept in memory
    // while the copy fills the state's own.
    rocksdb::FlushOptions flush;
    (void)kv_->db()->Flush(flush, staging);
    ReleaseFreeHeap();
    return true;
  }
  if (batch.Count() == 0) return false;
  unflushed_ += batch.GetDataSize();
  RETURN_IF_ERROR(kv_->WriteBuffered(&batch));
  if (unflushed_ >= kFlushBytes) {
    unflushed_ = 0;
    RETURN_IF_ERROR(FromRocksStatus(kv_->db()->Flush(rocksdb::FlushOptions(), staging),
                                    "flushing a staged snapshot"));
    ReleaseFreeHeap();  // the flushed memtable and the pieces' buffers
  }
  return false;
}

SnapshotMeta SnapshotStaging::meta() const {
  absl::MutexLock lock(&mu_);
  return meta_;
}

absl::Status SnapshotStaging::ClearState(rocksdb::WriteBatch* batch) const {
  for (const std::string& cf : state_cfs_) {
    RETURN_IF_ERROR(FromRocksStatus(batch->DeleteRange(kv_->cf(cf), "", EndOfKeys()),
                                    "clearing state for a snapshot"));
  }
  return absl::OkStatus();
}

absl::Status SnapshotStaging::Install(const SnapshotMeta& meta) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<SnapshotMeta> staged = ReadMarker(kv_, kStagedKey);
  if (absl::IsNotFound(staged.status()) ||
      (staged.ok() && (staged->index() != meta.index() || staged->term() != meta.term()))) {
    return absl::FailedPreconditionError(
        absl::StrCat("no complete snapshot at index ", meta.index(), " is staged"));
  }
  RETURN_IF_ERROR(staged.status());
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(ClearState(&batch));
  RETURN_IF_ERROR(
      FromRocksStatus(batch.Put(kv_->cf(kRaftMetaCf), kInstallingKey, meta.SerializeAsString()),
                      "installing a snapshot"));
  RETURN_IF_ERROR(kv_->Write(&batch));
  return CopyAndFinish(meta);
}

absl::Status SnapshotStaging::Recover() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<SnapshotMeta> installing = ReadMarker(kv_, kInstallingKey);
  if (absl::IsNotFound(installing.status())) return absl::OkStatus();
  RETURN_IF_ERROR(installing.status());
  // Whatever part of the copy happened is cleared and the whole copy done again.
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(ClearState(&batch));
  RETURN_IF_ERROR(kv_->WriteBuffered(&batch));
  return CopyAndFinish(*installing);
}

absl::Status SnapshotStaging::CopyAndFinish(const SnapshotMeta& meta) {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // read once: keep the cache for the service
  std::unique_ptr<rocksdb::Iterator> it(kv_->db()->NewIterator(ro, kv_->cf(kRaftStagingCf)));
  std::vector<rocksdb::ColumnFamilyHandle*> state;
  for (const std::string& cf : state_cfs_) state.push_back(kv_->cf(cf));
  rocksdb::WriteBatch batch;
  int batches = 0;
  size_t unflushed = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const void* zero = memchr(key.data(), '\0', key.size());
    if (zero == nullptr) return absl::DataLossError("staged snapshot record has no column family");
    const size_t cf_len = static_cast<const char*>(zero) - key.data();
    const std::string cf(key.data(), cf_len);
    if (std::find(state_cfs_.begin(), state_cfs_.end(), cf) == state_cfs_.end())
      return absl::DataLossError("staged snapshot record of a column family not replicated");
    RETURN_IF_ERROR(FromRocksStatus(
        batch.Put(kv_->cf(cf), rocksdb::Slice(key.data() + cf_len + 1, key.size() - cf_len - 1),
                  it->value()),
        "installing a snapshot"));
    if (batch.GetDataSize() < kBatchBytes) continue;
    if (fail_after_batches_ >= 0 && batches >= fail_after_batches_)
      return absl::InternalError("install stopped by a test");
    // Not synced: the last, synced write below persists the write-ahead log up to it.
    RETURN_IF_ERROR(kv_->WriteBuffered(&batch));
    unflushed += batch.GetDataSize();
    batch.Clear();
    ++batches;
    if (unflushed >= kFlushBytes) {
      unflushed = 0;
      RETURN_IF_ERROR(FromRocksStatus(kv_->db()->Flush(rocksdb::FlushOptions(), state),
                                      "flushing an installed snapshot"));
      ReleaseFreeHeap();
    }
  }
  if (!it->status().ok()) return FromRocksStatus(it->status(), "reading a staged snapshot");
  if (fail_after_batches_ >= 0 && batches >= fail_after_batches_)
    return absl::InternalError("install stopped by a test");
  it.reset();
  rocksdb::ColumnFamilyHandle* meta_cf = kv_->cf(kRaftMetaCf);
  RETURN_IF_ERROR(FromRocksStatus(batch.Put(meta_cf, applied_key_, meta.SerializeAsString()),
                                  "installing a snapshot"));
  RETURN_IF_ERROR(FromRocksStatus(batch.Delete(meta_cf, kInstallingKey), "installing a snapshot"));
  RETURN_IF_ERROR(FromRocksStatus(batch.Delete(meta_cf, kStagedKey), "installing a snapshot"));
  RETURN_IF_ERROR(FromRocksStatus(batch.DeleteRange(kv_->cf(kRaftStagingCf), "", EndOfKeys()),
                                  "installing a snapshot"));
  RETURN_IF_ERROR(kv_->Write(&batch));
  started_ = false;
  complete_ = false;
  records_ = 0;
  // Best effort: the staged copy leaves the disk now rather than at some later compaction.
  (void)kv_->CompactRange(kRaftStagingCf, "", EndOfKeys());
  return absl::OkStatus();
}

}  // namespace medvault::raft
