#include "raft/testing/linearizability.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace medvault::raft::testing {
namespace {

constexpr int64_t kNever = INT64_MAX;

class RegisterChecker {
 public:
  explicit RegisterChecker(std::vector<KvOp> ops) : ops_(std::move(ops)) {
    for (const KvOp& op : ops_) required_ += op.respond >= 0 ? 1 : 0;
  }

  bool Check() {
    std::string done(ops_.size(), '0');
    return Search(done, 0, "");
  }

 private:
  int64_t Respond(const KvOp& op) const { return op.respond < 0 ? kNever : op.respond; }

  // `done[i]` is '1' for the operations already placed in the linear order, `answered` counts the
  // answered ones among them; `value` is the register after them.
  bool Search(std::string& done, size_t answered, const std::string& value) {
    if (answered == required_) return true;
    if (!seen_.insert(done + '|' + value).second) return false;
    // An operation may go next only if it was invoked before every pending operation's answer.
    int64_t horizon = kNever;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (done[i] == '0') horizon = std::min(horizon, Respond(ops_[i]));
    }
    for (size_t i = 0; i < ops_.size(); ++i) {
      const KvOp& op = ops_[i];
      if (done[i] == '1') continue;
      if (op.invoke > horizon) break;  // sorted by invocation: no later op qualifies either
      if (op.kind == KvOp::Kind::kRead && op.value != value) continue;
      done[i] = '1';
      const bool ok = Search(done, answered + (op.respond >= 0 ? 1 : 0),
                             op.kind == KvOp::Kind::kRead ? value : op.value);
      done[i] = '0';
      if (ok) return true;
    }
    return false;
  }

  std::vector<KvOp> ops_;
  size_t required_ = 0;
  std::set<std::string> seen_;
};

}  // namespace

LinearizabilityResult CheckLinearizable(const std::vector<KvOp>& history) {
  std::map<std::string, std::vector<KvOp>> by_key;
  for (const KvOp& op : history) {
    if (op.kind == KvOp::Kind::kRead && op.respond < 0) continue;  // unanswered reads say nothing
    by_key[op.key].push_back(op);
  }
  for (auto& [key, ops] : by_key) {
    std::sort(ops.begin(), ops.end(),
              [](const KvOp& a, const KvOp& b) { return a.invoke < b.invoke; });
    if (!RegisterChecker(ops).Check()) {
      std::string detail;
      for (const KvOp& op : ops) {
        absl::StrAppend(&detail, "\n  ", op.kind == KvOp::Kind::kRead ? "read " : "write ",
                        op.value, " [", op.invoke, ", ",
                        op.respond < 0 ? std::string("?") : absl::StrCat(op.respond), "]");
      }
      return {false, absl::StrCat("history of key ", key, " is not linearizable:", detail)};
    }
  }
  return {};
}

}  // namespace medvault::raft::testing
