#include "raft/memory_log_storage.h"

#include "absl/strings/str_cat.h"

namespace medvault::raft {

absl::StatusOr<uint64_t> MemoryLogStorage::Term(uint64_t index) const {
  if (index == snapshot_.index()) return snapshot_.term();
  if (index < snapshot_.index() || index > LastIndex()) {
    return absl::OutOfRangeError(absl::StrCat("log index ", index, " not held"));
  }
  return entries_[index - snapshot_.index() - 1].term();
}

absl::StatusOr<std::vector<Entry>> MemoryLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                             uint64_t max_bytes) const {
  if (lo < FirstIndex() || hi > LastIndex() + 1 || lo >= hi) {
    return absl::OutOfRangeError(absl::StrCat("log range [", lo, ", ", hi, ") not held"));
  }
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - snapshot_.index() - 1];
    bytes += e.data().size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::Status MemoryLogStorage::Save(const HardState* hs, const std::vector<Entry>& entries) {
  if (!entries.empty()) {
    const uint64_t first = entries.front().index();
    if (first <= snapshot_.index() || first > LastIndex() + 1) {
      return absl::InternalError(
          absl::StrCat("append at ", first, " leaves a gap or rewrites the snapshot"));
    }
    entries_.resize(first - snapshot_.index() - 1);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
  if (hs != nullptr) hard_state_ = *hs;
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::InstallSnapshot(const SnapshotMeta& meta) {
  snapshot_ = meta;
  entries_.clear();
  if (hard_state_.commit() < meta.index()) hard_state_.set_commit(meta.index());
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::Compact(const SnapshotMeta& meta) {
  if (meta.index() <= snapshot_.index()) return absl::OkStatus();
  if (meta.index() > LastIndex()) return absl::InternalError("compacting past the last index");
  entries_.erase(entries_.begin(), entries_.begin() + (meta.index() - snapshot_.index()));
  snapshot_ = meta;
  return absl::OkStatus();
}

}  // namespace medvault::raft
