#include "raft/raft_log.h"

#include <algorithm>

namespace medvault::raft {

RaftLog::RaftLog(LogStorage* storage, uint64_t applied)
    : storage_(storage),
      offset_(storage->LastIndex() + 1),
      committed_(std::max(storage->hard_state().commit(), storage->snapshot_meta().index())),
      applied_(std::max(applied, storage->snapshot_meta().index())) {
  // The state machine may be ahead of the persisted commit (commit is saved lazily); never behind
  // the snapshot it was restored from.
  if (committed_ < applied_) committed_ = applied_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta().index() + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta().index();
  return StableLastIndex();
}

uint64_t RaftLog::Term(uint64_t index) const {
  if (index == 0) return 0;
  if (index > LastIndex()) return 0;
  if (index >= offset_) return unstable_[index - offset_].term();
  if (unstable_snapshot_) {
    return index == unstable_snapshot_->meta().index() ? unstable_snapshot_->meta().term() : 0;
  }
  absl::StatusOr<uint64_t> t = storage_->Term(index);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t index, uint64_t term) const {
  if (index == 0) return term == 0;
  if (index > LastIndex() || index + 1 < FirstIndex()) return false;
  return Term(index) == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  const uint64_t my_term = LastTerm();
  return last_term > my_term || (last_term == my_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + entries.size();
  // First entry whose term differs from ours (or that we lack); everything before is already held.
  size_t conflict = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.index() < FirstIndex()) continue;  // compacted, hence committed and identical
    if (!MatchTerm(e.index(), e.term())) {
      conflict = i;
      break;
    }
  }
  if (conflict < entries.size()) {
    // A committed entry never conflicts; if it did the leader would be broken.
    if (entries[conflict].index() <= committed_) return std::nullopt;
    TruncateAndAppend(std::vector<Entry>(entries.begin() + conflict, entries.end()));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& entries) {
  if (!entries.empty()) TruncateAndAppend(entries);
  return LastIndex();
}

void RaftLog::TruncateAndAppend(const std::vector<Entry>& entries) {
  const uint64_t first = entries.front().index();
  if (first == offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  } else if (first <= offset_) {
    // Replaces everything from `first` on; the driver truncates storage when it saves these.
    offset_ = first;
    unstable_ = entries;
  } else {
    unstable_.resize(first - offset_);
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
}

std::vector<Entry> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  std::vector<Entry> out;
  if (lo >= hi || lo < FirstIndex() || hi > LastIndex() + 1) return out;
  uint64_t bytes = 0;
  if (lo < offset_) {
    absl::StatusOr<std::vector<Entry>> stored =
        storage_->Entries(lo, std::min(hi, offset_), max_bytes);
    if (!stored.ok()) return {};
    for (const Entry& e : *stored) bytes += e.data().size();
    out = std::move(*stored);
    if (out.empty() || out.back().index() + 1 < std::min(hi, offset_)) return out;  // size cap hit
  }
  for (uint64_t i = std::max(lo, offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - offset_];
    bytes += e.data().size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index > committed_) committed_ = std::min(index, LastIndex());
}

bool RaftLog::MaybeCommit(uint64_t index, uint64_t term) {
  if (index > committed_ && Term(index) == term) {
    CommitTo(index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index > applied_) applied_ = index;
}

std::vector<Entry> RaftLog::NextCommitted(uint64_t max_bytes) const {
  if (unstable_snapshot_) return {};
  const uint64_t hi = std::min(committed_, StableLastIndex());
  if (hi <= applied_) return {};
  return Slice(applied_ + 1, hi + 1, max_bytes);
}

bool RaftLog::HasNextCommitted() const {
  return !unstable_snapshot_ && std::min(committed_, StableLastIndex()) > applied_;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (index < offset_ || index >= offset_ + unstable_.size()) return;
  if (unstable_[index - offset_].term() != term) return;  // replaced meanwhile
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - offset_ + 1));
  offset_ = index + 1;
}

void RaftLog::StableSnapshotTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta().index() == index) unstable_snapshot_.reset();
}

void RaftLog::Restore(Snapshot snapshot) {
  const uint64_t index = snapshot.meta().index();
  committed_ = index;
  offset_ = index + 1;
  unstable_.clear();
  unstable_snapshot_ = std::move(snapshot);
}

}  // namespace medvault::raft
