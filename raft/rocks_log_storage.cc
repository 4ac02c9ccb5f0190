#include "raft/rocks_log_storage.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace medvault::raft {
namespace {

constexpr char kHardStateKey[] = "hard_state";
constexpr char kSnapshotKey[] = "snapshot_meta";

uint64_t DecodeIndex(const rocksdb::Slice& key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return v;
}

}  // namespace

std::vector<std::string> RaftColumnFamilies() { return {kRaftLogCf, kRaftMetaCf, kRaftStagingCf}; }

std::string LogKey(uint64_t index) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return key;
}

absl::StatusOr<std::unique_ptr<RocksLogStorage>> RocksLogStorage::Open(KvStore* kv) {
  std::unique_ptr<RocksLogStorage> s(new RocksLogStorage(kv));
  absl::MutexLock lock(&s->mu_);
  absl::StatusOr<std::string> hs = kv->Get(kRaftMetaCf, kHardStateKey);
  if (hs.ok()) {
    if (!s->hard_state_.ParseFromString(*hs))
      return absl::DataLossError("raft hard state does not parse");
    s->has_meta_ = true;
  } else if (!absl::IsNotFound(hs.status())) {
    return hs.status();
  }
  absl::StatusOr<std::string> snap = kv->Get(kRaftMetaCf, kSnapshotKey);
  if (snap.ok()) {
    if (!s->snapshot_.ParseFromString(*snap))
      return absl::DataLossError("raft snapshot metadata does not parse");
    s->has_meta_ = true;
  } else if (!absl::IsNotFound(snap.status())) {
    return snap.status();
  }
  std::unique_ptr<rocksdb::Iterator> it = kv->NewIterator(kRaftLogCf);
  uint64_t expected = s->snapshot_.index() + 1;
  for (it->Seek(LogKey(expected)); it->Valid(); it->Next()) {
    Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        DecodeIndex(it->key()) != expected || e.index() != expected) {
      return absl::DataLossError(
          absl::StrCat("raft log entry ", expected, " is missing or corrupt"));
    }
    s->terms_.push_back(e.term());
    ++expected;
  }
  if (!it->status().ok()) return FromRocksStatus(it->status(), "reading the raft log");
  return s;
}

bool RocksLogStorage::empty() const {
  absl::MutexLock lock(&mu_);
  return !has_meta_ && terms_.empty();
}

HardState RocksLogStorage::hard_state() const {
  absl::MutexLock lock(&mu_);
  return hard_state_;
}

SnapshotMeta RocksLogStorage::snapshot_meta() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

uint64_t RocksLogStorage::LastIndex() const {
  absl::MutexLock lock(&mu_);
  return snapshot_.index() + terms_.size();
}

absl::StatusOr<uint64_t> RocksLogStorage::Term(uint64_t index) const {
  absl::MutexLock lock(&mu_);
  if (index == snapshot_.index()) return snapshot_.term();
  if (index < snapshot_.index() || index > snapshot_.index() + terms_.size()) {
    return absl::OutOfRangeError(absl::StrCat("log index ", index, " not held"));
  }
  return terms_[index - snapshot_.index() - 1];
}

absl::StatusOr<std::vector<Entry>> RocksLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                            uint64_t max_bytes) const {
  {
    absl::MutexLock lock(&mu_);
    if (lo <= snapshot_.index() || hi > snapshot_.index() + terms_.size() + 1 || lo >= hi) {
      return absl::OutOfRangeError(absl::StrCat("log range [", lo, ", ", hi, ") not held"));
    }
  }
  std::vector<Entry> out;
  uint64_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it = kv_->NewIterator(kRaftLogCf);
  for (it->Seek(LogKey(lo)); it->Valid() && DecodeIndex(it->key()) < hi; it->Next()) {
    Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("raft log entry does not parse");
    }
    bytes += e.data().size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocksStatus(it->status(), "reading the raft log");
  if (out.empty() || out.front().index() != lo) return absl::DataLossError("raft log has a gap");
  return out;
}

absl::Status RocksLogStorage::Save(const HardState* hs, const std::vector<Entry>& entries) {
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  const uint64_t last = snapshot_.index() + terms_.size();
  if (!entries.empty()) {
    const uint64_t first = entries.front().index();
    if (first <= snapshot_.index() || first > last + 1) {
      return absl::InternalError(
          absl::StrCat("append at ", first, " leaves a gap or rewrites the snapshot"));
    }
    if (first <= last) batch.DeleteRange(kv_->cf(kRaftLogCf), LogKey(first), LogKey(last + 1));
    for (const Entry& e : entries)
      batch.Put(kv_->cf(kRaftLogCf), LogKey(e.index()), e.SerializeAsString());
  }
  if (hs != nullptr) batch.Put(kv_->cf(kRaftMetaCf), kHardStateKey, hs->SerializeAsString());
  if (batch.Count() == 0) return absl::OkStatus();
  RETURN_IF_ERROR(kv_->Write(&batch));
  if (!entries.empty()) {
    terms_.resize(entries.front().index() - snapshot_.index() - 1);
    for (const Entry& e : entries) terms_.push_back(e.term());
  }
  if (hs != nullptr) hard_state_ = *hs;
  has_meta_ = true;
  return absl::OkStatus();
}

absl::Status RocksLogStorage::InstallSnapshot(const SnapshotMeta& meta) {
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  const uint64_t last = snapshot_.index() + terms_.size();
  if (last > 0) batch.DeleteRange(kv_->cf(kRaftLogCf), LogKey(0), LogKey(last + 1));
  batch.Put(kv_->cf(kRaftMetaCf), kSnapshotKey, meta.SerializeAsString());
  HardState hs = hard_state_;
  if (hs.commit() < meta.index()) hs.set_commit(meta.index());
  batch.Put(kv_->cf(kRaftMetaCf), kHardStateKey, hs.SerializeAsString());
  RETURN_IF_ERROR(kv_->Write(&batch));
  snapshot_ = meta;
  hard_state_ = hs;
  terms_.clear();
  has_meta_ = true;
  return absl::OkStatus();
}

absl::Status RocksLogStorage::Compact(const SnapshotMeta& meta) {
  absl::MutexLock lock(&mu_);
  if (meta.index() <= snapshot_.index()) return absl::OkStatus();
  if (meta.index() > snapshot_.index() + terms_.size())
    return absl::InternalError("compacting past the last index");
  rocksdb::WriteBatch batch;
  batch.DeleteRange(kv_->cf(kRaftLogCf), LogKey(0), LogKey(meta.index() + 1));
  batch.Put(kv_->cf(kRaftMetaCf), kSnapshotKey, meta.SerializeAsString());
  RETURN_IF_ERROR(kv_->Write(&batch));
  terms_.erase(terms_.begin(), terms_.begin() + (meta.index() - snapshot_.index()));
  snapshot_ = meta;
  return absl::OkStatus();
}

}  // namespace medvault::raft
