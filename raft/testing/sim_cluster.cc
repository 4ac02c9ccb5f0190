#include "raft/testing/sim_cluster.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "raft/memory_log_storage.h"
#include "raft/raft.h"
#include "raft/testing/linearizability.h"

namespace medvault::raft::testing {
namespace {

// The replicated state machine: a string map, with the Raft position and membership it reflects.
struct KvMachine {
  std::map<std::string, std::string> kv;
  uint64_t applied = 0;
  uint64_t applied_term = 0;
  Config config;

  std::string Serialize() const {
    Snapshot s;  // reuse the proto for framing: meta + data ("k=v\n" lines)
    s.mutable_meta()->set_index(applied);
    s.mutable_meta()->set_term(applied_term);
    *s.mutable_meta()->mutable_config() = config;
    std::string data;
    for (const auto& [k, v] : kv) absl::StrAppend(&data, k, "=", v, "\n");
    s.set_data(data);
    return s.SerializeAsString();
  }
  static KvMachine Parse(const std::string& bytes) {
    Snapshot s;
    s.ParseFromString(bytes);
    KvMachine m;
    m.applied = s.meta().index();
    m.applied_term = s.meta().term();
    m.config = s.meta().config();
    for (absl::string_view line : absl::StrSplit(s.data(), '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      m.kv[kv.first] = kv.second;
    }
    return m;
  }
};

struct Client {
  bool busy = false;
  size_t op = 0;  // index into the history
  std::string op_id;
  uint64_t node = 0;
  int64_t deadline = 0;
};

struct Node {
  uint64_t id = 0;
  std::unique_ptr<MemoryLogStorage> storage;  // survives crashes: it is the node's disk
  std::string durable_machine;                // serialized KvMachine at the last compaction
  bool up = false;
  int64_t restart_at = 0;
  std::unique_ptr<Raft> raft;
  KvMachine machine;
  std::map<std::string, int> pending_writes;         // op id → client
  std::map<std::string, int> pending_reads;          // read context → client
  std::vector<std::pair<uint64_t, int>> read_waits;  // (read index, client)
};

struct InFlight {
  int64_t deliver_at;
  uint64_t seq;
  Message message;
};

// A real vote request held back while appends reach the voter (SimOptions::vote_race).
struct HeldVote {
  Message message;
  uint64_t voter_last_index;  // durable log end of the voter when the vote was sent
  int64_t give_up_at;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : o_(o), rng_(o.seed) {}

  SimResult Run() {
    Setup();
    for (now_ = 0; now_ < o_.steps && result_.ok; ++now_) Step(/*faults=*/true);
    if (result_.ok) Settle();
    if (result_.ok) CheckHistory();
    return result_;
  }

 private:
  // ---- setup and faults ----

  void Setup() {
    Config initial;
    for (int i = 1; i <= o_.voters; ++i) {
      auto* m = initial.add_members();
      m->set_id(i);
      m->set_address(absl::StrCat("node", i));
    }
    for (int i = 1; i <= o_.voters + o_.spare_nodes; ++i) {
      Node& n = nodes_[i];
      n.id = i;
      n.storage = std::make_unique<MemoryLogStorage>();
      if (i <= o_.voters) {
        SnapshotMeta meta;
        *meta.mutable_config() = initial;
        (void)n.storage->InstallSnapshot(meta);
        KvMachine m;
        m.config = initial;
        n.durable_machine = m.Serialize();
      }
      Start(n);
    }
    clients_.resize(o_.clients);
  }

  void Start(Node& n) {
    n.machine = n.durable_machine.empty() ? KvMachine{} : KvMachine::Parse(n.durable_machine);
    RaftOptions ro;
    ro.id = n.id;
    ro.applied = n.machine.applied;
    ro.seed = o_.seed * 7919 + restarts_++;
    ro.max_inflight = 8;
    ro.max_bytes_per_message = 256;
    Node* np = &n;
    ro.snapshot_source = [np]() -> absl::StatusOr<Snapshot> {
      Snapshot s;
      s.mutable_meta()->set_index(np->machine.applied);
      s.mutable_meta()->set_term(np->machine.applied_term);
      *s.mutable_meta()->mutable_config() = np->machine.config;
      s.set_data(np->machine.Serialize());
      return s;
    };
    n.raft = std::make_unique<Raft>(ro, n.storage.get());
    n.up = true;
    n.pending_writes.clear();
    n.pending_reads.clear();
    n.read_waits.clear();
  }

  void Crash(Node& n) {
    Trace(absl::StrCat("crash node ", n.id));
    ++result_.crashes;
    n.up = false;
    n.raft.reset();
    n.restart_at = now_ + 1 + Uniform(o_.max_down_steps);
  }

  void MaybeInjectFaults() {
    if (Chance(o_.crash)) {
      Node& n = RandomNode();
      if (n.up) Crash(n);
    }
    for (auto& [id, n] : nodes_) {
      if (!n.up && n.restart_at <= now_) {
        Trace(absl::StrCat("restart node ", id));
        Start(n);
      }
    }
    if (blocked_.empty() && Chance(o_.partition)) {
      std::vector<uint64_t> side;
      for (auto& [id, n] : nodes_) {
        if (Chance(0.5)) side.push_back(id);
      }
      for (uint64_t a : side) {
        for (auto& [b, n] : nodes_) {
          if (std::find(side.begin(), side.end(), b) == side.end()) {
            blocked_.insert({a, b});
            blocked_.insert({b, a});
          }
        }
      }
      heal_at_ = now_ + 1 + Uniform(o_.max_partition_steps);
      Trace(absl::StrCat("partition, ", side.size(), " nodes on one side"));
    }
    if (!blocked_.empty() && now_ >= heal_at_) {
      blocked_.clear();
      Trace("partition healed");
    }
    if (Chance(o_.config_change)) ChangeMembership();
  }

  void ChangeMembership() {
    Node* leader = Leader();
    if (leader == nullptr) return;
    Config next = leader->raft->config();
    const int size = next.members_size() + next.learners_size();
    std::vector<uint64_t> outside;
    for (auto& [id, n] : nodes_) {
      if (!leader->raft->IsMember(id) && !leader->raft->IsLearner(id)) outside.push_back(id);
    }
    const bool add = !outside.empty() && (size < 4 || (size < 5 && Chance(0.5)));
    if (add) {
      const uint64_t id = outside[Uniform(outside.size())];
      auto* m = next.add_learners();  // the leader promotes it once it has caught up
      m->set_id(id);
      m->set_address(absl::StrCat("node", id));
    } else if (next.learners_size() > 0 && Chance(0.5)) {
      next.mutable_learners()->erase(next.mutable_learners()->begin() +
                                     Uniform(next.learners_size()));
    } else if (next.members_size() > 3) {
      next.mutable_members()->erase(next.mutable_members()->begin() + Uniform(next.members_size()));
    } else {
      return;
    }
    if (leader->raft->ProposeConfig(next).ok()) {
      ++result_.config_changes;
      Trace(absl::StrCat("leader ", leader->id, " proposes ", next.members_size(), " members"));
    }
  }

  // ---- one step ----

  void Step(bool faults) {
    if (faults) MaybeInjectFaults();
    ReleaseHeldVotes();
    Deliver();
    if (now_ % o_.steps_per_tick == 0) {
      for (auto& [id, n] : nodes_) {
        if (n.up) n.raft->Tick();
      }
    }
    RunClients();
    for (auto& [id, n] : nodes_) {
      for (int round = 0; round < 4 && n.up && n.raft->HasReady(); ++round) {
        HandleReady(n, faults);
      }
    }
    CheckInvariants();
  }

  void Deliver() {
    std::vector<InFlight> due;
    for (auto it = network_.begin(); it != network_.end();) {
      if (it->deliver_at <= now_) {
        due.push_back(std::move(*it));
        it = network_.erase(it);
      } else {
        ++it;
      }
    }
    std::shuffle(due.begin(), due.end(), rng_);
    for (InFlight& f : due) {
      auto it = nodes_.find(f.message.to());
      if (it == nodes_.end() || !it->second.up) continue;
      it->second.raft->Step(f.message);
    }
  }

  void ReleaseHeldVotes() {
    for (auto it = held_votes_.begin(); it != held_votes_.end();) {
      Node& voter = nodes_[it->message.to()];
      // Grew from an older leader: a leader of the vote's term or later makes the vote moot.
      const bool grew = voter.up && voter.storage->LastIndex() > it->voter_last_index &&
                        voter.raft->term() < it->message.term();
      if (!grew && now_ < it->give_up_at) {
        ++it;
        continue;
      }
      if (grew) {
        // The voter took appends after the candidate's pre-vote; it now restarts, so no leader
        // lease shields it, and the vote arrives.
        ++result_.vote_races;
        Trace(absl::StrCat("vote race: node ", voter.id, " grew its log to ",
                           voter.storage->LastIndex(), "; restarting it before node ",
                           it->message.from(), "'s vote"));
        Crash(voter);
        Start(voter);
      }
      network_.push_back({now_, seq_++, it->message});
      it = held_votes_.erase(it);
    }
  }

  void Transmit(const Message& m) {
    if (blocked_.count({m.from(), m.to()})) return;
    if (Chance(o_.drop)) return;
    if (m.type() == v1::RAFT_MSG_VOTE && faults_on_ && Chance(o_.vote_race)) {
      // A leader of an older term still serves (cut off from the majority that granted the
      // pre-vote, it has not noticed yet): the voter's links come back, so that leader's appends
      // may reach it before the vote does.
      Node* old_leader = Leader();
      auto it = nodes_.find(m.to());
      if (old_leader != nullptr && old_leader->raft->term() < m.term() && it != nodes_.end() &&
          it->second.up) {
        Trace(absl::StrCat("holding node ", m.from(), "'s vote to node ", m.to(), "; node ", m.to(),
                           " rejoins leader ", old_leader->id));
        for (auto b = blocked_.begin(); b != blocked_.end();) {
          b = b->first == m.to() || b->second == m.to() ? blocked_.erase(b) : std::next(b);
        }
        held_votes_.push_back({m, it->second.storage->LastIndex(), now_ + o_.vote_race_steps});
        return;
      }
    }
    const int copies = Chance(o_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      network_.push_back({now_ + 1 + static_cast<int64_t>(Uniform(o_.max_delay)), seq_++, m});
    }
  }

  void HandleReady(Node& n, bool faults) {
    Ready rd = n.raft->GetReady();
    if (rd.snapshot) {
      n.machine = KvMachine::Parse(rd.snapshot->data());
      n.durable_machine = rd.snapshot->data();
      (void)n.storage->InstallSnapshot(rd.snapshot->meta());
      ++result_.snapshots_installed;
      Trace(absl::StrCat("node ", n.id, " installs snapshot at ", rd.snapshot->meta().index()));
    }
    if (rd.send_before_persist) {
      // As RaftNode does for a leader: its messages leave first, and a crash may then lose
      // entries its followers already hold.
      for (const Message& m : rd.messages) Transmit(m);
      if (faults && Chance(o_.crash * o_.crash_mid_ready)) {
        ++result_.crashes_before_persist;
        return Crash(n);
      }
    }
    absl::Status saved = n.storage->Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries);
    if (!saved.ok()) return Fail(absl::StrCat("node ", n.id, " save: ", saved.ToString()));
    if (faults && Chance(o_.crash * o_.crash_mid_ready)) return Crash(n);
    if (!rd.send_before_persist) {
      for (const Message& m : rd.messages) Transmit(m);
    }
    for (const Entry& e : rd.committed_entries) Apply(n, e);
    for (const ReadState& rs : rd.read_states) {
      auto it = n.pending_reads.find(rs.context);
      if (it == n.pending_reads.end()) continue;
      n.read_waits.push_back({rs.index, it->second});
      n.pending_reads.erase(it);
    }
    n.raft->Advance(rd);
    ServeReads(n);
    MaybeCompact(n);
  }

  void Apply(Node& n, const Entry& e) {
    if (e.index() != n.machine.applied + 1) {
      return Fail(
          absl::StrCat("node ", n.id, " applies ", e.index(), " after ", n.machine.applied));
    }
    // State-machine safety: every node applies the same entry at each index.
    auto [it, inserted] = applied_.insert({e.index(), {e.term(), e.data()}});
    if (!inserted && (it->second.first != e.term() || it->second.second != e.data())) {
      return Fail(absl::StrCat("state machine safety: node ", n.id,
                               " applied a different entry at ", e.index()));
    }
    result_.final_commit = std::max(result_.final_commit, e.index());
    if (e.type() == v1::RAFT_ENTRY_CONFIG) {
      n.machine.config.ParseFromString(e.data());
    } else if (e.type() == v1::RAFT_ENTRY_COMMAND) {
      std::vector<std::string> parts = absl::StrSplit(e.data(), '|');  // W|key|value|op id
      n.machine.kv[parts[1]] = parts[2];
      auto w = n.pending_writes.find(parts[3]);
      if (w != n.pending_writes.end()) {
        Respond(w->second, "");
        n.pending_writes.erase(w);
      }
    }
    n.machine.applied = e.index();
    n.machine.applied_term = e.term();
  }

  void ServeReads(Node& n) {
    for (auto it = n.read_waits.begin(); it != n.read_waits.end();) {
      if (it->first <= n.machine.applied) {
        const KvOp& op = history_[clients_[it->second].op];
        auto v = n.machine.kv.find(op.key);
        Respond(it->second, v == n.machine.kv.end() ? "" : v->second);
        it = n.read_waits.erase(it);
      } else {
        ++it;
      }
    }
  }

  void MaybeCompact(Node& n) {
    if (n.machine.applied < n.storage->FirstIndex() + o_.compact_after) return;
    SnapshotMeta meta;
    meta.set_index(n.machine.applied);
    meta.set_term(n.machine.applied_term);
    *meta.mutable_config() = n.machine.config;
    n.durable_machine = n.machine.Serialize();
    absl::Status s = n.storage->Compact(meta);
    if (!s.ok()) Fail(absl::StrCat("node ", n.id, " compact: ", s.ToString()));
  }

  // ---- clients ----

  void RunClients() {
    for (size_t c = 0; c < clients_.size(); ++c) {
      Client& cl = clients_[c];
      if (cl.busy && now_ >= cl.deadline) {
        cl.busy = false;  // gives up: the op stays unanswered
        Node& n = nodes_[cl.node];
        n.pending_writes.erase(cl.op_id);
        n.pending_reads.erase(cl.op_id);
        auto& w = n.read_waits;
        w.erase(std::remove_if(w.begin(), w.end(),
                               [&](const auto& p) { return p.second == static_cast<int>(c); }),
                w.end());
      }
      if (cl.busy || !Chance(o_.client_start)) continue;
      // Mostly the newest leader, but often any node that believes it leads (a deposed leader that
      // has not noticed yet is exactly where stale reads would come from), sometimes anyone.
      const double pick = Uniform(10);
      Node* target = pick < 5 ? Leader() : pick < 9 ? AnyLeader() : &RandomNode();
      if (target == nullptr || !target->up) continue;
      KvOp op;
      op.kind = Chance(0.5) ? KvOp::Kind::kWrite : KvOp::Kind::kRead;
      op.key = absl::StrCat("k", Uniform(o_.keys));
      op.invoke = now_;
      const std::string op_id = absl::StrCat("op", history_.size());
      if (op.kind == KvOp::Kind::kWrite) {
        op.value = absl::StrCat("v", history_.size());
        if (!target->raft->Propose(absl::StrCat("W|", op.key, "|", op.value, "|", op_id)).ok())
          continue;
        target->pending_writes[op_id] = c;
      } else {
        if (!target->raft->ReadIndex(op_id).ok()) continue;
        target->pending_reads[op_id] = c;
      }
      cl = Client{true, history_.size(), op_id, target->id, now_ + o_.client_timeout};
      history_.push_back(op);
    }
  }

  void Respond(int client, const std::string& value) {
    Client& cl = clients_[client];
    if (!cl.busy) return;
    KvOp& op = history_[cl.op];
    op.respond = now_;
    if (op.kind == KvOp::Kind::kRead) {
      op.value = value;
      ++result_.reads_answered;
    } else {
      ++result_.writes_acknowledged;
    }
    cl.busy = false;
  }

  // ---- checks ----

  void CheckInvariants() {
    for (auto& [id, n] : nodes_) {
      if (!n.up || n.raft->role() != Role::kLeader) continue;
      auto [it, inserted] = leader_of_term_.insert({n.raft->term(), id});
      if (!inserted && it->second != id) {
        return Fail(absl::StrCat("election safety: nodes ", it->second, " and ", id,
                                 " both lead term ", n.raft->term()));
      }
      if (inserted) {
        ++result_.leaders_elected;
        Trace(absl::StrCat("node ", id, " leads term ", n.raft->term()));
        CheckLeaderCompleteness(n);
      }
    }
    for (auto a = nodes_.begin(); a != nodes_.end(); ++a) {
      for (auto b = std::next(a); b != nodes_.end(); ++b) {
        if (a->second.up && b->second.up) CheckLogMatching(a->second, b->second);
      }
    }
  }

  void CheckLeaderCompleteness(Node& n) {
    const RaftLog& log = n.raft->log();
    for (auto it = applied_.lower_bound(log.FirstIndex()); it != applied_.end(); ++it) {
      if (log.Term(it->first) != it->second.first) {
        return Fail(absl::StrCat("leader completeness: leader ", n.id, " of term ", n.raft->term(),
                                 " lacks committed entry ", it->first));
      }
    }
  }

  void CheckLogMatching(Node& a, Node& b) {
    const RaftLog& la = a.raft->log();
    const RaftLog& lb = b.raft->log();
    const uint64_t lo = std::max(la.FirstIndex(), lb.FirstIndex());
    const uint64_t hi = std::min(la.LastIndex(), lb.LastIndex());
    bool differed = false;
    for (uint64_t i = lo; i <= hi; ++i) {
      const bool same = la.Term(i) == lb.Term(i);
      if (same && differed) {
        return Fail(absl::StrCat("log matching: nodes ", a.id, " and ", b.id, " agree at ", i,
                                 " but differ before it"));
      }
      differed = differed || !same;
    }
  }

  void Settle() {
    // Faults stop; everyone restarts; the group must elect a leader and commit a new write.
    blocked_.clear();
    faults_on_ = false;
    for (auto& [id, n] : nodes_) {
      if (!n.up) Start(n);
    }
    const int64_t limit = now_ + 3000;
    bool proposed = false;
    uint64_t index = 0;
    for (; now_ < limit && result_.ok; ++now_) {
      Step(/*faults=*/false);
      Node* leader = Leader();
      if (!proposed && leader != nullptr) {
        absl::StatusOr<uint64_t> i = leader->raft->Propose("W|final|done|final");
        if (i.ok()) {
          proposed = true;
          index = *i;
        }
      }
      if (proposed && leader != nullptr) {
        bool all = true;
        for (const auto& m : leader->raft->config().members()) {  // voters (learners may lag)
          if (nodes_[m.id()].machine.applied < index) all = false;
        }
        auto it = applied_.find(index);
        if (all && it != applied_.end() && it->second.second == "W|final|done|final") return;
        if (it != applied_.end() && it->second.second != "W|final|done|final")
          proposed = false;  // lost
      }
    }
    if (result_.ok)
      Fail("liveness: no leader committed a write within 3000 steps after faults stopped");
  }

  void CheckHistory() {
    LinearizabilityResult r = CheckLinearizable(history_);
    if (!r.ok) Fail(absl::StrCat("linearizability: ", r.explanation));
  }

  // ---- helpers ----

  Node* Leader() {
    Node* best = nullptr;
    for (auto& [id, n] : nodes_) {
      if (n.up && n.raft->role() == Role::kLeader &&
          (best == nullptr || n.raft->term() > best->raft->term())) {
        best = &n;
      }
    }
    return best;
  }
  Node* AnyLeader() {
    std::vector<Node*> leaders;
    for (auto& [id, n] : nodes_) {
      if (n.up && n.raft->role() == Role::kLeader) leaders.push_back(&n);
    }
    return leaders.empty() ? nullptr : leaders[Uniform(leaders.size())];
  }
  Node& RandomNode() {
    auto it = nodes_.begin();
    std::advance(it, Uniform(nodes_.size()));
    return it->second;
  }
  uint64_t Uniform(uint64_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void Fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = absl::StrCat("seed ", o_.seed, " step ", now_, ": ", what);
    for (auto& [id, n] : nodes_) {
      if (!n.up) {
        Trace(absl::StrCat("node ", id, " down"));
        continue;
      }
      const Raft& r = *n.raft;
      std::string members;
      for (const auto& m : r.config().members()) absl::StrAppend(&members, m.id(), " ");
      Trace(absl::StrCat("node ", id, " ", RoleName(r.role()), " term ", r.term(), " vote ",
                         r.vote(), " lead ", r.leader(), " members [", members, "] first ",
                         r.log().FirstIndex(), " last ", r.log().LastIndex(), " last term ",
                         r.log().LastTerm(), " commit ", r.log().committed(), " applied ",
                         r.log().applied()));
    }
  }
  void Trace(const std::string& what) {
    if (o_.trace) std::fprintf(stderr, "[%lld] %s\n", static_cast<long long>(now_), what.c_str());
  }

  const SimOptions o_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t restarts_ = 0;
  std::map<uint64_t, Node> nodes_;
  std::vector<InFlight> network_;
  std::vector<HeldVote> held_votes_;
  bool faults_on_ = true;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;
  int64_t heal_at_ = 0;
  std::vector<Client> clients_;
  std::vector<KvOp> history_;
  std::map<uint64_t, std::pair<uint64_t, std::string>> applied_;  // index → (term, data)
  std::map<uint64_t, uint64_t> leader_of_term_;
  SimResult result_;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) { return Simulation(options).Run(); }

}  // namespace medvault::raft::testing
