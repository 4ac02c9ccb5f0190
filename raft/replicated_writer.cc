#include "raft/replicated_writer.h"

namespace medvault::raft {

absl::Status ReplicatedWriter::Write(const rocksdb::WriteBatch& batch) {
  absl::StatusOr<std::string> command = machine_->EncodeCommand(batch);
  if (!command.ok()) return command.status();
  return node_->Propose(std::move(*command), timeout_);
}

absl::Status ReplicatedWriter::Barrier() {
  // ReadIndex: a quorum confirms leadership and the commit index, then we wait to apply it, and
  // any command we proposed earlier (one that timed out may still commit): no plan is made from
  // state that a write already in the log is about to change.
  return node_->ReadBarrier(timeout_);
}

absl::Status ReplicatedWriter::RequireLeader() const {
  if (node_->IsLeader()) return absl::OkStatus();
  const NodeStatus status = node_->Status();
  if (!status.leader_address.empty()) {
    return absl::UnavailableError("not the leader; leader is " + status.leader_address);
  }
  return absl::UnavailableError("no leader elected yet; retry");
}

}  // namespace medvault::raft
