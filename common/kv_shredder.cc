#include "common/kv_shredder.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace medvault {
namespace {

// Most range compactions per column family and pass; more deleted keys are grouped.
constexpr size_t kMaxRangeCompactions = 64;

}  // namespace

KvShredder::KvShredder(KvStore* kv, std::vector<std::string> families,
                       std::function<absl::Status()> compact_log,
                       std::vector<std::string> log_families)
    : kv_(kv),
      families_(std::move(families)),
      compact_log_(std::move(compact_log)),
      log_families_(std::move(log_families)) {}

void KvShredder::Deleted(const std::string& cf, const std::string& key) {
  if (std::find(families_.begin(), families_.end(), cf) == families_.end()) return;
  absl::MutexLock lock(&mu_);
  if (pending_[cf].insert(key).second) ++pending_count_;
}

void KvShredder::EverythingChanged() {
  absl::MutexLock lock(&mu_);
  everything_ = true;
}

uint64_t KvShredder::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_count_ + in_flight_ + (everything_ ? 1 : 0);
}

uint64_t KvShredder::shredded() const {
  absl::MutexLock lock(&mu_);
  return shredded_;
}

uint64_t KvShredder::passes() const {
  absl::MutexLock lock(&mu_);
  return passes_;
}

absl::Status KvShredder::ShredPending() {
  absl::MutexLock pass(&shred_mu_);
  Noted keys;
  uint64_t count = 0;
  bool everything = false;
  {
    absl::MutexLock lock(&mu_);
    keys.swap(pending_);
    std::swap(count, pending_count_);
    std::swap(everything, everything_);
    in_flight_ = count + (everything ? 1 : 0);
  }
  if (count == 0 && !everything) return absl::OkStatus();
  absl::Status shredded = Shred(keys, everything);
  absl::MutexLock lock(&mu_);
  in_flight_ = 0;
  if (!shredded.ok()) {
    for (auto& [cf, set] : keys) {
      for (const std::string& key : set) {
        if (pending_[cf].insert(key).second) ++pending_count_;
      }
    }
    everything_ = everything_ || everything;
    return shredded;
  }
  shredded_ += count;
  ++passes_;
  return absl::OkStatus();
}

absl::Status KvShredder::Shred(const Noted& keys, bool everything) {
  rocksdb::DB* db = kv_->db();
  // 1. The Raft log entries that wrote these values go.
  if (compact_log_) RETURN_IF_ERROR(Annotate(compact_log_(), "compacting the Raft log"));
  // 2. Flush every column family of the database (a write-ahead log file is obsolete only once
  //    every family has flushed past it): memtables reach SST files, and RocksDB deletes the
  //    write-ahead log files holding the values.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(FromRocksStatus(db->Flush(flush, kv_->handles()), "flushing before shredding"));
  // 3. Rewrite the files holding old values, down to the bottom level, so tombstones and the
  //    values they cover are both dropped.
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const std::string& cf : families_) {
    auto noted = keys.find(cf);
    if (everything) {
      RETURN_IF_ERROR(FromRocksStatus(db->CompactRange(compact, kv_->cf(cf), nullptr, nullptr),
                                      absl::StrCat("compacting column family ", cf)));
      continue;
    }
    if (noted == keys.end()) continue;
    // The sorted keys in at most kMaxRangeCompactions groups of neighbours, one range each: a
    // study's entries share prefixes, so its ranges stay narrow however many instances it had.
    const std::vector<std::string> sorted(noted->second.begin(), noted->second.end());
    const size_t groups = std::min(sorted.size(), kMaxRangeCompactions);
    for (size_t g = 0; g < groups; ++g) {
      const std::string& first = sorted[g * sorted.size() / groups];
      const std::string end = sorted[(g + 1) * sorted.size() / groups - 1] + std::string(1, '\0');
      rocksdb::Slice b(first), e(end);
      RETURN_IF_ERROR(FromRocksStatus(db->CompactRange(compact, kv_->cf(cf), &b, &e),
                                      absl::StrCat("compacting deleted ranges of ", cf)));
    }
  }
  for (const std::string& cf : log_families_) {
    RETURN_IF_ERROR(FromRocksStatus(db->CompactRange(compact, kv_->cf(cf), nullptr, nullptr),
                                    absl::StrCat("compacting column family ", cf)));
  }
  return absl::OkStatus();
}

}  // namespace medvault
