// What a Raft node replicates into: the service's state, advanced by committed entries.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raft_log.h"

namespace medvault::raft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Index, term and membership of the last applied entry, as durably recorded (0 when new).
  virtual SnapshotMeta Applied() const = 0;
  // Applies committed entries in order (COMMAND, CONFIG and NOOP alike), recording the applied
  // position atomically with their effects. Must be deterministic: every replica applies the same
  // entries to the same state. Returns one result per entry, handed to the proposer if it waits
  // here; a non-OK status return means the state machine could not apply at all (the node stops).
  virtual absl::StatusOr<std::vector<absl::Status>> Apply(const std::vector<Entry>& entries) = 0;
  // A consistent copy of the state as of Applied().
  virtual absl::StatusOr<Snapshot> TakeSnapshot() = 0;
  // For a backup, with bounded memory: the state as of Applied(), read from one consistent view
  // and passed to `emit` in pieces of about `piece_bytes` (the first carries the position, the
  // last `last` and the count of records; raft.proto's RaftBackupPiece). Applies go on meanwhile.
  // An error from `emit` ends the stream and is returned.
  virtual absl::Status StreamSnapshot(
      size_t piece_bytes, const std::function<absl::Status(const v1::RaftBackupPiece&)>& emit) {
    return absl::UnimplementedError("this state machine cannot stream a backup");
  }
  // Replaces the whole state by `snapshot` (durably).
  virtual absl::Status Restore(const Snapshot& snapshot) = 0;
  // Records `config` as the membership at index 0 of a new group, keeping whatever state is
  // there (every founding replica must start from the same state: normally empty).
  virtual absl::Status Initialize(const v1::RaftConfig& config) = 0;
};

}  // namespace medvault::raft
