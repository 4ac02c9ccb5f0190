// Deterministic simulation of Raft groups: thousands of seeds, each a different storm of lost,
// delayed, duplicated and reordered messages, partitions, crashes that lose unsynced state,
// restarts and membership changes. A failing seed is printed and replays exactly:
//   MEDVAULT_RAFT_SEED=1234 build/tests/raft_sim_test --gtest_filter=*Replay*
// MEDVAULT_RAFT_SEEDS=N changes how many seeds the sweep runs (default 2000).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "raft/testing/sim_cluster.h"

namespace medvault::raft::testing {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

struct Totals {
  int leaders = 0, writes = 0, reads = 0, crashes = 0, crashes_before_persist = 0, snapshots = 0,
      config_changes = 0, vote_races = 0;
  void Add(const SimResult& r) {
    leaders += r.leaders_elected;
    writes += r.writes_acknowledged;
    reads += r.reads_answered;
    crashes += r.crashes;
    crashes_before_persist += r.crashes_before_persist;
    snapshots += r.snapshots_installed;
    config_changes += r.config_changes;
    vote_races += r.vote_races;
  }
  void Print(const char* what, uint64_t seeds) const {
    std::printf(
        "%s: %llu seeds, %d leaders elected, %d writes and %d reads acknowledged, %d crashes "
        "(%d of a leader between sending and persisting), %d snapshots installed, %d membership "
        "changes, %d votes delivered after the voter's log grew\n",
        what, static_cast<unsigned long long>(seeds), leaders, writes, reads, crashes,
        crashes_before_persist, snapshots, config_changes, vote_races);
  }
};

// Each sweep owns a range of seeds, so a seed alone says which configuration to replay.
constexpr uint64_t kFiveVoterSeeds = 1000001;
constexpr uint64_t kHarshSeeds = 2000001;

SimOptions OptionsForSeed(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  if (seed >= kHarshSeeds) {
    o.drop = 0.25;
    o.duplicate = 0.1;
    o.max_delay = 20;
    o.crash = 0.005;
    o.partition = 0.005;
  } else if (seed >= kFiveVoterSeeds) {
    o.voters = 5;
    o.spare_nodes = 1;
  }
  return o;
}

void Sweep(const char* what, uint64_t first_seed, uint64_t seeds) {
  Totals totals;
  for (uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    SimOptions o = OptionsForSeed(seed);
    SimResult r = RunSimulation(o);
    ASSERT_TRUE(r.ok) << r.failure << "\nreplay: MEDVAULT_RAFT_SEED=" << seed
                      << " build/tests/raft_sim_test --gtest_filter=*Replay*";
    totals.Add(r);
  }
  totals.Print(what, seeds);
  // The storm must actually exercise the protocol, or the sweep proves nothing.
  EXPECT_GT(totals.writes, 0);
  EXPECT_GT(totals.reads, 0);
  EXPECT_GT(totals.crashes, 0);
  EXPECT_GT(totals.crashes_before_persist, 0);
  EXPECT_GT(totals.snapshots, 0);
  EXPECT_GT(totals.config_changes, 0);
  EXPECT_GT(totals.vote_races, 0);
}

TEST(RaftSimulation, ThreeVotersUnderFaults) {
  Sweep("3 voters", 1, EnvOr("MEDVAULT_RAFT_SEEDS", 2000));
}

TEST(RaftSimulation, FiveVotersUnderFaults) {
  Sweep("5 voters", kFiveVoterSeeds, EnvOr("MEDVAULT_RAFT_SEEDS", 2000) / 4);
}

TEST(RaftSimulation, HarshNetwork) {
  Sweep("harsh network", kHarshSeeds, EnvOr("MEDVAULT_RAFT_SEEDS", 2000) / 4);
}

TEST(RaftSimulation, Replay) {
  const uint64_t seed = EnvOr("MEDVAULT_RAFT_SEED", 0);
  if (seed == 0) GTEST_SKIP() << "set MEDVAULT_RAFT_SEED to replay one seed with a trace";
  SimOptions o = OptionsForSeed(seed);
  o.trace = true;
  SimResult r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
}

}  // namespace
}  // namespace medvault::raft::testing
