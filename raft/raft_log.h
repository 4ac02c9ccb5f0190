// The log as the Raft core sees it: entries already in LogStorage plus an unstable tail (and
// possibly a snapshot) the driver has not yet persisted, with the commit and apply positions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/log_storage.h"

namespace medvault::raft {

using Snapshot = medvault::v1::RaftSnapshot;

class RaftLog {
 public:
  // `applied` is the state machine's applied index (at least the storage's snapshot index).
  RaftLog(LogStorage* storage, uint64_t applied);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const { return Term(LastIndex()); }
  // Term of the entry at `index`; 0 when the entry is not held (compacted or beyond the end).
  uint64_t Term(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // Whether a log ending at (last_index, last_term) is at least as up to date as this one.
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Follower append: entries following (index, log_term). Returns the index of the last new entry,
  // or nullopt when this log does not hold (index, log_term). Commits up to min(committed, last
  // new).
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& entries);
  // Leader append (entries carry their index and term); returns the new last index.
  uint64_t Append(const std::vector<Entry>& entries);
  // Entries [lo, hi) up to max_bytes (at least one). Empty when lo is compacted away.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void CommitTo(uint64_t index);
  // Leader: commits `index` if it belongs to `term` (Raft commits only entries of its own term).
  bool MaybeCommit(uint64_t index, uint64_t term);
  void AppliedTo(uint64_t index);

  // Committed entries that are durable and not yet applied.
  std::vector<Entry> NextCommitted(uint64_t max_bytes) const;
  bool HasNextCommitted() const;
  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  // The driver persisted entries up to (index, term) / the snapshot at `index`.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapshotTo(uint64_t index);
  // Replaces the whole log by `snapshot` (follower catching up).
  void Restore(Snapshot snapshot);

 private:
  void TruncateAndAppend(const std::vector<Entry>& entries);
  uint64_t StableLastIndex() const { return offset_ - 1; }

  LogStorage* const storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;  // unstable_[i] has index offset_ + i
  uint64_t offset_;
  uint64_t committed_;
  uint64_t applied_;
};

}  // namespace medvault::raft
