#include "cli/args_raft.h"
#include "cli/args_verb.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace medvault::cli {
namespace {

absl::Status Group(const std::vector<std::string>& p, size_t i, RaftArgs* out) {
  if (i >= p.size()) return absl::InvalidArgumentError("raft: say metaserver or keyservice");
  if (p[i] != "metaserver" && p[i] != "keyservice") {
    return absl::InvalidArgumentError(
        absl::StrCat("raft: unknown group '", p[i], "' (say metaserver or keyservice)"));
  }
  out->groups = {p[i]};
  return absl::OkStatus();
}

absl::Status Id(const std::vector<std::string>& p, size_t i, RaftArgs* out) {
  if (i >= p.size()) return absl::InvalidArgumentError("raft: give the member's ID");
  if (!absl::SimpleAtoi(p[i], &out->id) || out->id == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("raft: a member ID is a positive integer, not '", p[i], "'"));
  }
  return absl::OkStatus();
}

absl::Status NoMore(const std::vector<std::string>& p, size_t n) {
  if (p.size() <= n) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("raft: unexpected argument '", p[n], "'"));
}

}  // namespace

absl::Status FillRaft(bool json, const std::vector<std::string>& p, RaftArgs* out) {
  const std::string action = p.empty() ? "" : p[0];
  out->json = json;
  if (json && action != "status")
    return absl::InvalidArgumentError("raft: --json goes with status");
  if (action == "status") {
    out->action = RaftArgs::Action::kStatus;
    out->groups = {"metaserver", "keyservice"};
    if (p.size() > 1) {
      if (absl::Status s = Group(p, 1, out); !s.ok()) return s;
    }
    return NoMore(p, 2);
  }
  if (action == "add") {
    out->action = RaftArgs::Action::kAdd;
    if (absl::Status s = Group(p, 1, out); !s.ok()) return s;
    if (absl::Status s = Id(p, 2, out); !s.ok()) return s;
    if (p.size() < 4 || p[3].empty()) {
      return absl::InvalidArgumentError("raft add: give the new member's HOST:PORT");
    }
    out->address = p[3];
    return NoMore(p, 4);
  }
  if (action == "remove") {
    out->action = RaftArgs::Action::kRemove;
    if (absl::Status s = Group(p, 1, out); !s.ok()) return s;
    if (absl::Status s = Id(p, 2, out); !s.ok()) return s;
    return NoMore(p, 3);
  }
  if (action == "transfer-leader") {
    out->action = RaftArgs::Action::kTransferLeader;
    if (absl::Status s = Group(p, 1, out); !s.ok()) return s;
    if (p.size() > 2) {
      if (absl::Status s = Id(p, 2, out); !s.ok()) return s;
    }
    return NoMore(p, 3);
  }
  return absl::InvalidArgumentError("raft: say status, add, remove or transfer-leader");
}

namespace {

absl::Status FillRaftVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                          Command* cmd) {
  return FillRaft(flags.count("json"), positionals, &cmd->raft);
}

}  // namespace

const VerbSpec& RaftVerb() {
  static const VerbSpec spec{Verb::kRaft,
                             "raft",
                             {{"json", false}},
                             FillRaftVerb,
                             R"(  raft status [metaserver|keyservice] [--json]
      Each Raft group as its leader sees it: leader, term, commit and applied index, and every
      member's role, match index and lag. Needs the admin scope, as do the three below.
  raft add GROUP ID HOST:PORT
      Add member ID (a replica started empty, without --raft_bootstrap) to GROUP (metaserver or
      keyservice) as a learner; the leader promotes it to voter once it has caught up.
  raft remove GROUP ID
      Remove member ID (removing the leader hands leadership off first).
  raft transfer-leader GROUP [ID]
      Hand leadership to member ID, or to the most caught-up voter.
)"};
  return spec;
}

}  // namespace medvault::cli
