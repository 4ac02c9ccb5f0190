// Membership of the Raft core: single-member changes, learners promoted once caught up, the config
// entries tracked so a log truncation can roll membership back, and leadership transfer (see
// raft.h).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "raft/raft.h"

namespace medvault::raft {

using v1::RAFT_ENTRY_CONFIG;
using v1::RAFT_MSG_TIMEOUT_NOW;

absl::StatusOr<uint64_t> Raft::TransferLeader(uint64_t target) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the leader (leader is node ", lead_, ")"));
  }
  if (target == 0) {
    uint64_t best_match = 0;
    for (const auto& m : config_.members()) {
      auto it = progress_.find(m.id());
      if (m.id() == id_ || it == progress_.end()) continue;
      if (target == 0 || it->second.match > best_match) {
        target = m.id();
        best_match = it->second.match;
      }
    }
    if (target == 0) return absl::FailedPreconditionError("no other voter to hand leadership to");
  }
  if (target == id_) return absl::InvalidArgumentError("this node already leads");
  if (!IsMember(target)) return absl::InvalidArgumentError("the target is not a voter");
  lead_transferee_ = target;
  transfer_elapsed_ = 0;
  MaybeSendTimeoutNow(target);
  SendAppend(target);  // an up-to-date target answers at once; a lagging one catches up
  return target;
}

void Raft::MaybeSendTimeoutNow(uint64_t to) {
  auto it = progress_.find(to);
  if (it == progress_.end() || it->second.match != log_.LastIndex()) return;
  Message m;
  m.set_type(RAFT_MSG_TIMEOUT_NOW);
  m.set_to(to);
  Send(std::move(m));
}

void Raft::MaybePromote(uint64_t learner) {
  const Progress& pr = progress_.at(learner);
  if (pr.match < log_.committed() || pending_config_index_ > log_.applied()) return;
  Config next = config_;
  auto* learners = next.mutable_learners();
  for (int i = 0; i < learners->size(); ++i) {
    if (learners->Get(i).id() != learner) continue;
    *next.add_members() = learners->Get(i);
    learners->erase(learners->begin() + i);
    break;
  }
  (void)ProposeConfig(
      next);  // fails only if a change slipped in meanwhile; retried on the next ack
}

absl::StatusOr<uint64_t> Raft::ProposeConfig(const Config& config) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the leader (leader is node ", lead_, ")"));
  }
  if (pending_config_index_ > log_.applied() || lead_transferee_ != 0) {
    return absl::UnavailableError("a membership change is still in progress; retry");
  }
  // Each id maps to 'v' (voter) or 'l' (learner); exactly one id may change.
  std::map<uint64_t, char> before, after;
  for (const auto& m : config_.members()) before[m.id()] = 'v';
  for (const auto& m : config_.learners()) before[m.id()] = 'l';
  for (const auto* list : {&config.members(), &config.learners()}) {
    for (const auto& m : *list) {
      if (m.id() == 0 || m.address().empty()) {
        return absl::InvalidArgumentError("every member needs a non-zero id and an address");
      }
      if (!after.emplace(m.id(), list == &config.members() ? 'v' : 'l').second) {
        return absl::InvalidArgumentError("a member is listed twice");
      }
    }
  }
  int changed = 0;
  for (const auto& [id, kind] : before) {
    auto it = after.find(id);
    if (it == after.end()) {
      ++changed;
    } else if (it->second != kind) {
      if (kind == 'v') return absl::InvalidArgumentError("a voter cannot become a learner");
      ++changed;
    }
  }
  for (const auto& [id, kind] : after) {
    if (before.count(id) == 0) {
      if (kind == 'v') return absl::InvalidArgumentError("a new member joins as a learner");
      ++changed;
    }
  }
  if (changed != 1) {
    return absl::InvalidArgumentError(
        "a membership change must add, promote or remove exactly one member");
  }
  if (config.members_size() == 0)
    return absl::InvalidArgumentError("the group needs at least one voter");
  AppendEntry(RAFT_ENTRY_CONFIG, config.SerializeAsString());
  pending_config_index_ = log_.LastIndex();
  return log_.LastIndex();
}

void Raft::ReconcileConfigEntries(uint64_t from, const std::vector<Entry>& entries) {
  for (auto it = config_entries_.lower_bound(from); it != config_entries_.end();) {
    if (!log_.MatchTerm(it->first, it->second.first)) {
      it = config_entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (const Entry& e : entries) {
    if (e.type() != RAFT_ENTRY_CONFIG || !log_.MatchTerm(e.index(), e.term())) continue;
    Config c;
    if (c.ParseFromString(e.data())) config_entries_[e.index()] = {e.term(), std::move(c)};
  }
  RebuildConfig();
}

void Raft::RebuildConfig() {
  const Config& next =
      config_entries_.empty() ? base_config_ : config_entries_.rbegin()->second.second;
  ApplyConfig(next);
}

void Raft::ApplyConfig(const Config& config) {
  config_ = config;
  if (role_ != Role::kLeader) return;
  std::set<uint64_t> ids;
  for (const auto* list : {&config_.members(), &config_.learners()}) {
    for (const auto& m : *list) {
      ids.insert(m.id());
      if (progress_.count(m.id()) == 0) {
        Progress& pr = progress_[m.id()];
        pr.next = log_.LastIndex() + 1;
        pr.recent_active = true;
      }
    }
  }
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = ids.count(it->first) ? std::next(it) : progress_.erase(it);
  }
}

}  // namespace medvault::raft
