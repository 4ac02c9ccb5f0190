#include "frontend/service/raft_admin_client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "medvault/v1/raft.grpc.pb.h"

namespace medvault::frontend {
namespace {

// A membership change or hand-off waits up to RaftServiceImpl::kAdminTimeout (10 s) on the leader;
// each attempt gets a little longer, the whole call room for a redirect or an election.
constexpr auto kAttempt = std::chrono::seconds(15);
constexpr auto kBudget = std::chrono::seconds(40);

template <typename Req, typename Resp, typename Call>
absl::StatusOr<Resp> Forward(GroupChannels* group, Call call, const Req& req) {
  Resp resp;
  absl::Status s = group->Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point deadline) {
        auto stub = v1::RaftService::NewStub(channel);
        grpc::ClientContext ctx;
        ctx.set_deadline(deadline);
        resp.Clear();
        return FromGrpcStatus(call(stub.get(), &ctx, req, &resp));
      },
      kBudget, kAttempt);
  if (!s.ok()) return s;
  return resp;
}

}  // namespace

absl::StatusOr<v1::GetRaftStatusResponse> RaftAdminClient::GetStatus() {
  return Forward<v1::GetRaftStatusRequest, v1::GetRaftStatusResponse>(
      group_, [](auto* stub, auto* c, auto& r, auto* o) { return stub->GetStatus(c, r, o); },
      v1::GetRaftStatusRequest());
}

absl::Status RaftAdminClient::AddMember(const v1::AddRaftMemberRequest& request) {
  return Forward<v1::AddRaftMemberRequest, v1::AddRaftMemberResponse>(
             group_, [](auto* stub, auto* c, auto& r, auto* o) { return stub->AddMember(c, r, o); },
             request)
      .status();
}

absl::Status RaftAdminClient::RemoveMember(const v1::RemoveRaftMemberRequest& request) {
  return Forward<v1::RemoveRaftMemberRequest, v1::RemoveRaftMemberResponse>(
             group_,
             [](auto* stub, auto* c, auto& r, auto* o) { return stub->RemoveMember(c, r, o); },
             request)
      .status();
}

absl::StatusOr<v1::TransferRaftLeaderResponse> RaftAdminClient::TransferLeader(
    const v1::TransferRaftLeaderRequest& request) {
  return Forward<v1::TransferRaftLeaderRequest, v1::TransferRaftLeaderResponse>(
      group_, [](auto* stub, auto* c, auto& r, auto* o) { return stub->TransferLeader(c, r, o); },
      request);
}

absl::Status RaftAdminClient::StreamBackup(
    std::chrono::system_clock::time_point deadline,
    const std::function<absl::Status(const v1::RaftBackupPiece&)>& relay) {
  // A caller without a deadline gets a day (the group's arithmetic must not overflow).
  const auto left =
      std::min<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              deadline - std::chrono::system_clock::now()),
                                          std::chrono::hours(24));
  if (left.count() <= 0) return absl::DeadlineExceededError("no time left for the backup");
  bool started = false;       // a piece went to `relay`: no retry may repeat it
  absl::Status relay_status;  // what `relay` said when it refused a piece
  absl::Status s = group_->Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point attempt_deadline) {
        auto stub = v1::RaftService::NewStub(channel);
        grpc::ClientContext ctx;
        ctx.set_deadline(attempt_deadline);
        std::unique_ptr<grpc::ClientReader<v1::RaftBackupPiece>> reader =
            stub->StreamBackup(&ctx, v1::TakeRaftSnapshotRequest());
        v1::RaftBackupPiece piece;
        while (reader->Read(&piece)) {
          started = true;
          relay_status = relay(piece);
          if (!relay_status.ok()) {
            ctx.TryCancel();  // the leader stops streaming and releases its view
            break;
          }
        }
        absl::Status finished = FromGrpcStatus(reader->Finish());
        if (!relay_status.ok()) return relay_status;
        if (!finished.ok() && started) {
          return absl::AbortedError(absl::StrCat("the backup stream broke: ", finished.message()));
        }
        return finished;
      },
      left, left);
  if (!relay_status.ok()) return relay_status;
  return s;
}

}  // namespace medvault::frontend
