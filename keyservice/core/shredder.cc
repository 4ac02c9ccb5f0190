#include "keyservice/core/shredder.h"

#include <rocksdb/db.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

// Above this many keys one compaction of the whole keys column family beats one per key.
constexpr size_t kMaxRangeCompactions = 64;

}  // namespace

Shredder::Shredder(KvStore* kv, std::function<absl::Status()> compact_log,
                   std::vector<std::string> log_families)
    : kv_(kv), compact_log_(std::move(compact_log)), log_families_(std::move(log_families)) {}

void Shredder::Destroyed(const std::string& object_id) {
  absl::MutexLock lock(&mu_);
  pending_.insert(object_id);
}

void Shredder::EverythingChanged() {
  absl::MutexLock lock(&mu_);
  everything_ = true;
}

uint64_t Shredder::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

uint64_t Shredder::shredded() const {
  absl::MutexLock lock(&mu_);
  return shredded_;
}

absl::Status Shredder::ShredPending() {
  absl::MutexLock pass(&shred_mu_);
  std::set<std::string> ids;
  bool everything = false;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(pending_);
    std::swap(everything, everything_);
  }
  if (ids.empty() && !everything) return absl::OkStatus();
  absl::Status shredded = Shred(ids, everything);
  absl::MutexLock lock(&mu_);
  if (!shredded.ok()) {
    pending_.insert(ids.begin(), ids.end());
    everything_ = everything_ || everything;
    return shredded;
  }
  shredded_ += ids.size();
  return absl::OkStatus();
}

absl::Status Shredder::Shred(const std::set<std::string>& ids, bool everything) {
  rocksdb::DB* db = kv_->db();
  // 1. The Raft log entries that created these keys (and carried their wrapped bytes) go.
  if (compact_log_) RETURN_IF_ERROR(Annotate(compact_log_(), "compacting the Raft log"));
  // 2. Flush every column family: memtables reach SST files, and every write-ahead log file is
  //    then obsolete, so RocksDB deletes the ones holding the keys.
  std::vector<rocksdb::ColumnFamilyHandle*> families = {kv_->cf(kKeysColumnFamily)};
  for (const std::string& cf : KeyStoreColumnFamilies()) {
    if (cf != kKeysColumnFamily) families.push_back(kv_->cf(cf));
  }
  for (const std::string& cf : log_families_) families.push_back(kv_->cf(cf));
  families.push_back(db->DefaultColumnFamily());
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(FromRocksStatus(db->Flush(flush, families), "flushing before shredding"));
  // 3. Rewrite the files holding old values, down to the bottom level, so tombstones and the
  //    values they cover are both dropped.
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (everything || ids.size() > kMaxRangeCompactions) {
    RETURN_IF_ERROR(
        FromRocksStatus(db->CompactRange(compact, kv_->cf(kKeysColumnFamily), nullptr, nullptr),
                        "compacting the keys"));
  } else {
    for (const std::string& id : ids) {
      const std::string end = id + std::string(1, '\0');
      rocksdb::Slice b(id), e(end);
      RETURN_IF_ERROR(FromRocksStatus(db->CompactRange(compact, kv_->cf(kKeysColumnFamily), &b, &e),
                                      absl::StrCat("compacting the range of object ", ToHex(id))));
    }
  }
  for (const std::string& cf : log_families_) {
    RETURN_IF_ERROR(FromRocksStatus(db->CompactRange(compact, kv_->cf(cf), nullptr, nullptr),
                                    absl::StrCat("compacting column family ", cf)));
  }
  return absl::OkStatus();
}

}  // namespace medvault::keyservice
