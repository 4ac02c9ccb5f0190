#include "raft/kv_state_machine.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft {
namespace {

constexpr char kAppliedKey[] = "applied";

// Collects a WriteBatch's operations by column family name.
class Encoder : public rocksdb::WriteBatch::Handler {
 public:
  explicit Encoder(const std::map<uint32_t, std::string>& names) : names_(names) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    return Add(v1::RaftKvWrite::PUT, cf, key, value);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return Add(v1::RaftKvWrite::DELETE, cf, key, rocksdb::Slice());
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    return Add(v1::RaftKvWrite::DELETE_RANGE, cf, begin, end);
  }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::NotSupported("single delete is not replicated");
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::NotSupported("merge is not replicated");
  }

  v1::RaftKvBatch batch;

 private:
  rocksdb::Status Add(v1::RaftKvWrite::Op op, uint32_t cf, const rocksdb::Slice& key,
                      const rocksdb::Slice& value) {
    auto it = names_.find(cf);
    if (it == names_.end())
      return rocksdb::Status::InvalidArgument("write to a column family that is not replicated");
    v1::RaftKvWrite* w = batch.add_writes();
    w->set_op(op);
    w->set_cf(it->second);
    w->set_key(key.data(), key.size());
    w->set_value(value.data(), value.size());
    return rocksdb::Status::OK();
  }
  const std::map<uint32_t, std::string>& names_;
};

}  // namespace

KvStateMachine::KvStateMachine(KvStore* kv, std::vector<std::string> state_cfs)
    : kv_(kv), state_cfs_(state_cfs), staging_(kv, std::move(state_cfs), kAppliedKey) {}

absl::StatusOr<std::unique_ptr<KvStateMachine>> KvStateMachine::Open(
    KvStore* kv, std::vector<std::string> state_cfs) {
  std::unique_ptr<KvStateMachine> sm(new KvStateMachine(kv, std::move(state_cfs)));
  // A snapshot install a crash interrupted is finished before anything reads the state.
  RETURN_IF_ERROR(sm->staging_.Recover());
  absl::StatusOr<std::string> applied = kv->Get(kRaftMetaCf, kAppliedKey);
  if (applied.ok()) {
    absl::MutexLock lock(&sm->mu_);
    if (!sm->applied_.ParseFromString(*applied))
      return absl::DataLossError("raft applied position does not parse");
  } else if (!absl::IsNotFound(applied.status())) {
    return applied.status();
  }
  return sm;
}

bool KvStateMachine::Replicated(const std::string& cf) const {
  return std::find(state_cfs_.begin(), state_cfs_.end(), cf) != state_cfs_.end();
}

absl::StatusOr<std::string> KvStateMachine::EncodeCommand(const rocksdb::WriteBatch& batch) const {
  std::map<uint32_t, std::string> names;
  for (const std::string& cf : state_cfs_) names[kv_->cf(cf)->GetID()] = cf;
  Encoder encoder(names);
  rocksdb::Status s = batch.Iterate(&encoder);
  if (!s.ok())
    return absl::InvalidArgumentError(absl::StrCat("cannot replicate this batch: ", s.ToString()));
  return encoder.batch.SerializeAsString();
}

absl::Status KvStateMachine::AddWrite(const v1::RaftKvWrite& w, rocksdb::WriteBatch* batch) const {
  if (!Replicated(w.cf()))
    return absl::InvalidArgumentError("command writes a column family that is not replicated");
  rocksdb::ColumnFamilyHandle* cf = kv_->cf(w.cf());
  rocksdb::Status s;
  switch (w.op()) {
    case v1::RaftKvWrite::PUT:
      s = batch->Put(cf, w.key(), w.value());
      break;
    case v1::RaftKvWrite::DELETE:
      s = batch->Delete(cf, w.key());
      break;
    case v1::RaftKvWrite::DELETE_RANGE:
      s = batch->DeleteRange(cf, w.key(), w.value());
      break;
    default:
      return absl::InvalidArgumentError("unknown write operation");
  }
  return FromRocksStatus(s, "building the apply batch");
}

SnapshotMeta KvStateMachine::Applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

absl::StatusOr<std::vector<absl::Status>> KvStateMachine::Apply(const std::vector<Entry>& entries) {
  absl::MutexLock lock(&mu_);
  std::vector<absl::Status> results;
  rocksdb::WriteBatch batch;
  SnapshotMeta applied = applied_;
  std::vector<std::pair<std::string, std::string>> deleted;
  for (const Entry& e : entries) {
    if (e.index() != applied.index() + 1) {
      return absl::InternalError(
          absl::StrCat("applying entry ", e.index(), " after ", applied.index()));
    }
    absl::Status result;
    if (e.type() == v1::RAFT_ENTRY_COMMAND) {
      // A bad command fails identically on every replica and changes nothing.
      v1::RaftKvBatch cmd;
      batch.SetSavePoint();
      if (!cmd.ParseFromString(e.data()))
        result = absl::InvalidArgumentError("command does not parse");
      const bool rewritten = result.ok() && rewriter_ != nullptr;
      if (rewritten) result = rewriter_->Rewrite(&cmd);
      for (int i = 0; result.ok() && i < cmd.writes_size(); ++i)
        result = AddWrite(cmd.writes(i), &batch);
      if (!result.ok() && rewritten) rewriter_->Undo();
      if (result.ok()) {
        (void)batch.PopSavePoint();
        if (on_delete_) {
          for (const v1::RaftKvWrite& w : cmd.writes()) {
            if (w.op() == v1::RaftKvWrite::DELETE) deleted.emplace_back(w.cf(), w.key());
          }
        }
      } else {
        (void)batch.RollbackToSavePoint();
      }
    } else if (e.type() == v1::RAFT_ENTRY_CONFIG) {
      v1::RaftConfig config;
      if (config.ParseFromString(e.data())) *applied.mutable_config() = config;
    }
    applied.set_index(e.index());
    applied.set_term(e.term());
    results.push_back(result);
  }
  batch.Put(kv_->cf(kRaftMetaCf), kAppliedKey, applied.SerializeAsString());
  // Not synced: these entries are already durable in the Raft log, which lives in this same
  // database and write-ahead log. A power loss can only drop a suffix of applies together with
  // their applied index, and the replica then re-applies them from the log; the log itself is
  // never trimmed past them, because every log write (compaction included) is synchronous and the
  // write-ahead log persists in order. So each commit costs one fsync per replica, not two.
  absl::Status written = kv_->WriteBuffered(&batch);
  if (rewriter_ != nullptr) rewriter_->Settle(written.ok());
  RETURN_IF_ERROR(written);
  applied_ = applied;
  for (const auto& [cf, key] : deleted) on_delete_(cf, key);
  return results;
}

absl::StatusOr<Snapshot> KvStateMachine::TakeSnapshot() {
  absl::MutexLock lock(&mu_);  // no apply in between: the data matches applied_
  Snapshot snap;
  *snap.mutable_meta() = applied_;
  v1::RaftKvBatch data;
  for (const std::string& cf : state_cfs_) {
    std::unique_ptr<rocksdb::Iterator> it = kv_->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      v1::RaftKvWrite* w = data.add_writes();
      w->set_cf(cf);
      w->set_key(it->key().data(), it->key().size());
      w->set_value(it->value().data(), it->value().size());
    }
    if (!it->status().ok()) return FromRocksStatus(it->status(), "taking a snapshot");
  }
  snap.set_data(data.SerializeAsString());
  return snap;
}

absl::Status KvStateMachine::StreamSnapshot(
    size_t piece_bytes, const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
  v1::RaftBackupPiece piece;
  rocksdb::DB* db = kv_->db();
  const rocksdb::Snapshot* view;
  {
    absl::MutexLock lock(&mu_);  // no apply in between: the view matches applied_
    *piece.mutable_meta() = applied_;
    view = db->GetSnapshot();
  }
  // Released however this returns; while held, RocksDB keeps what the view sees.
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> held(
      view, [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
  rocksdb::ReadOptions ro;
  ro.snapshot = view;
  ro.fill_cache = false;  // a backup reads everything once: keep the cache for the service
  uint64_t records = 0;
  size_t bytes = 0;
  for (const std::string& cf : state_cfs_) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, kv_->cf(cf)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      v1::RaftKvWrite* w = piece.add_writes();
      w->set_cf(cf);
      w->set_key(it->key().data(), it->key().size());
      w->set_value(it->value().data(), it->value().size());
      ++records;
      bytes += cf.size() + it->key().size() + it->value().size();
      if (bytes >= piece_bytes) {
        RETURN_IF_ERROR(emit(piece));
        piece.Clear();
        bytes = 0;
      }
    }
    if (!it->status().ok()) return FromRocksStatus(it->status(), "streaming a backup");
  }
  piece.set_last(true);
  piece.set_records(records);
  return emit(piece);
}

absl::Status KvStateMachine::Restore(const Snapshot& snapshot) {
  {
    absl::MutexLock lock(&mu_);
    if (snapshot.staged()) {
      RETURN_IF_ERROR(staging_.Install(snapshot.meta()));
      applied_ = snapshot.meta();
      if (rewriter_ != nullptr) rewriter_->Reload();
    }
  }
  if (snapshot.staged()) {
    if (on_restore_) on_restore_();
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    v1::RaftKvBatch data;
    if (!data.ParseFromString(snapshot.data()))
      return absl::DataLossError("snapshot does not parse");
    rocksdb::WriteBatch batch;
    for (const std::string& cf : state_cfs_) {
      // Everything goes: an empty end key would not cover keys starting with 0xff bytes.
      RETURN_IF_ERROR(FromRocksStatus(batch.DeleteRange(kv_->cf(cf), "", std::string(1024, '\xff')),
                                      "clearing state for a snapshot"));
    }
    for (const v1::RaftKvWrite& w : data.writes()) {
      if (w.op() != v1::RaftKvWrite::PUT)
        return absl::DataLossError("snapshot holds a non-PUT write");
      RETURN_IF_ERROR(AddWrite(w, &batch));
    }
    batch.Put(kv_->cf(kRaftMetaCf), kAppliedKey, snapshot.meta().SerializeAsString());
    RETURN_IF_ERROR(kv_->Write(&batch));
    applied_ = snapshot.meta();
    if (rewriter_ != nullptr) rewriter_->Reload();
  }
  if (on_restore_) on_restore_();
  return absl::OkStatus();
}

absl::Status KvStateMachine::RestoreStream(
    const std::function<
        absl::Status(const std::function<absl::Status(const v1::RaftKvWrite&)>& write)>& read) {
  constexpr size_t kBatchBytes = 4 << 20;
  {
    absl::MutexLock lock(&mu_);
    rocksdb::WriteBatch batch;
    for (const std::string& cf : state_cfs_) {
      RETURN_IF_ERROR(FromRocksStatus(batch.DeleteRange(kv_->cf(cf), "", std::string(1024, '\xff')),
                                      "clearing state for a restore"));
    }
    RETURN_IF_ERROR(read([&](const v1::RaftKvWrite& w) -> absl::Status {
      if (w.op() != v1::RaftKvWrite::PUT)
        return absl::DataLossError("backup holds a non-PUT write");
      RETURN_IF_ERROR(AddWrite(w, &batch));
      if (batch.GetDataSize() < kBatchBytes) return absl::OkStatus();
      // Not synced: the last, synced write below persists the write-ahead log up to it.
      RETURN_IF_ERROR(kv_->WriteBuffered(&batch));
      batch.Clear();
      return absl::OkStatus();
    }));
    SnapshotMeta fresh;
    batch.Put(kv_->cf(kRaftMetaCf), kAppliedKey, fresh.SerializeAsString());
    RETURN_IF_ERROR(kv_->Write(&batch));
    applied_ = fresh;
    if (rewriter_ != nullptr) rewriter_->Reload();
  }
  if (on_restore_) on_restore_();
  return absl::OkStatus();
}

absl::Status KvStateMachine::Initialize(const v1::RaftConfig& config) {
  absl::MutexLock lock(&mu_);
  SnapshotMeta meta;
  *meta.mutable_config() = config;
  rocksdb::WriteBatch batch;
  batch.Put(kv_->cf(kRaftMetaCf), kAppliedKey, meta.SerializeAsString());
  RETURN_IF_ERROR(kv_->Write(&batch));
  applied_ = meta;
  return absl::OkStatus();
}

}  // namespace medvault::raft
