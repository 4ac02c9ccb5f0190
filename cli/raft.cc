// `medvault raft`: the metaserver and key service Raft groups over the frontend's Admin service
// (which forwards to each group's leader): status, add or remove a member, hand off leadership.
#include <iomanip>

#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

v1::RaftGroup GroupOf(const std::string& name) {
  return name == "metaserver" ? v1::RAFT_GROUP_METASERVER : v1::RAFT_GROUP_KEYSERVICE;
}

void PrintStatus(const std::string& group, const v1::GetRaftStatusResponse& st, bool json,
                 std::ostream& out) {
  if (json) {
    out << "{\"group\":" << JsonQuote(group) << ",\"leader\":" << st.leader_id()
        << ",\"leader_address\":" << JsonQuote(st.leader_address()) << ",\"term\":" << st.term()
        << ",\"commit\":" << st.commit() << ",\"applied\":" << st.applied()
        << ",\"last_index\":" << st.last_index() << ",\"members\":[";
    for (int i = 0; i < st.members_size(); ++i) {
      const v1::RaftMemberStatus& m = st.members(i);
      out << (i ? "," : "") << "{\"id\":" << m.id() << ",\"address\":" << JsonQuote(m.address())
          << ",\"role\":" << JsonQuote(m.voter() ? "voter" : "learner")
          << ",\"match\":" << m.match() << ",\"lag\":" << m.lag()
          << ",\"active\":" << (m.active() ? "true" : "false") << "}";
    }
    out << "]}\n";
    return;
  }
  out << group << ": leader " << st.leader_id() << " (" << st.leader_address() << "), term "
      << st.term() << ", commit " << st.commit() << ", applied " << st.applied() << ", last index "
      << st.last_index() << "\n";
  out << "  " << std::left << std::setw(6) << "id" << std::setw(24) << "address" << std::setw(9)
      << "role" << std::setw(12) << "match" << std::setw(10) << "lag"
      << "active\n";
  for (const v1::RaftMemberStatus& m : st.members()) {
    const std::string role =
        m.id() == st.leader_id() ? "leader" : (m.voter() ? "voter" : "learner");
    out << "  " << std::left << std::setw(6) << m.id() << std::setw(24) << m.address()
        << std::setw(9) << role << std::setw(12) << m.match() << std::setw(10) << m.lag()
        << (m.active() ? "yes" : "no") << "\n";
  }
}

int Failed(const CommandContext& ctx, const std::string& what, const grpc::Status& status) {
  *ctx.err << FormatError(what, FromGrpcStatus(status)) << "\n";
  return kExitFailure;
}

}  // namespace

int RunRaft(const CommandContext& ctx, const RaftArgs& args) {
  int exit = kExitOk;
  for (const std::string& group : args.groups) {
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    switch (args.action) {
      case RaftArgs::Action::kStatus: {
        v1::GetRaftStatusRequest request;
        request.set_group(GroupOf(group));
        v1::GetRaftStatusResponse response;
        grpc::Status status = ctx.admin->GetRaftStatus(&context, request, &response);
        if (!status.ok()) {
          exit = Failed(ctx, "raft status " + group, status);
          continue;
        }
        PrintStatus(group, response, args.json, *ctx.out);
        break;
      }
      case RaftArgs::Action::kAdd: {
        v1::AddRaftMemberRequest request;
        request.set_group(GroupOf(group));
        request.set_id(args.id);
        request.set_address(args.address);
        v1::AddRaftMemberResponse response;
        grpc::Status status = ctx.admin->AddRaftMember(&context, request, &response);
        if (!status.ok()) return Failed(ctx, "raft add", status);
        *ctx.out << group << ": member " << args.id << " at " << args.address
                 << " added as a learner; it becomes a voter once caught up (`medvault raft "
                    "status`)\n";
        break;
      }
      case RaftArgs::Action::kRemove: {
        v1::RemoveRaftMemberRequest request;
        request.set_group(GroupOf(group));
        request.set_id(args.id);
        v1::RemoveRaftMemberResponse response;
        grpc::Status status = ctx.admin->RemoveRaftMember(&context, request, &response);
        if (!status.ok()) return Failed(ctx, "raft remove", status);
        *ctx.out << group << ": member " << args.id << " removed\n";
        break;
      }
      case RaftArgs::Action::kTransferLeader: {
        v1::TransferRaftLeaderRequest request;
        request.set_group(GroupOf(group));
        request.set_target_id(args.id);
        v1::TransferRaftLeaderResponse response;
        grpc::Status status = ctx.admin->TransferRaftLeader(&context, request, &response);
        if (!status.ok()) return Failed(ctx, "raft transfer-leader", status);
        *ctx.out << group << ": member " << response.leader_id() << " ("
                 << response.leader_address() << ") leads\n";
        break;
      }
    }
  }
  return exit;
}

}  // namespace medvault::cli
