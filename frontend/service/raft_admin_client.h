// The Admin API's Raft membership calls, forwarded to the leader of the metaserver or key service
// group (medvault.v1.RaftService on the same members the frontend already calls): the group
// follows redirects to its leader and retries UNAVAILABLE answers within the call's budget.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/group_channels.h"
#include "medvault/v1/raft.pb.h"

namespace medvault::frontend {

class RaftAdminClient {
 public:
  // `group` must outlive the client.
  explicit RaftAdminClient(GroupChannels* group) : group_(group) {}

  absl::StatusOr<v1::GetRaftStatusResponse> GetStatus();
  absl::Status AddMember(const v1::AddRaftMemberRequest& request);
  absl::Status RemoveMember(const v1::RemoveRaftMemberRequest& request);
  absl::StatusOr<v1::TransferRaftLeaderResponse> TransferLeader(
      const v1::TransferRaftLeaderRequest& request);
  // The group's state for a backup (RaftService.StreamBackup), each piece handed to `relay` as it
  // arrives, none kept: memory stays bounded by a piece and gRPC's flow-control windows. Redirects
  // and UNAVAILABLE answers are retried only before the first piece; a stream that breaks after
  // it, or a `relay` that fails, ends the call (ABORTED, or `relay`'s error): the caller starts
  // over. Runs until `deadline`.
  absl::Status StreamBackup(std::chrono::system_clock::time_point deadline,
                            const std::function<absl::Status(const v1::RaftBackupPiece&)>& relay);

 private:
  GroupChannels* const group_;
};

}  // namespace medvault::frontend
