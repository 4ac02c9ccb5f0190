// Deterministic simulation of a whole Raft group in one process. Every message delay, drop,
// duplicate, partition, crash, restart, vote race, membership change and client operation is drawn
// from one seeded generator, so a failing seed replays exactly.
//
// After every step it checks election safety, log matching, leader completeness and state-machine
// safety; at the end it checks the clients' history for linearizability against a key-value model
// and that the group makes progress once faults stop.
#pragma once

#include <cstdint>
#include <string>

namespace medvault::raft::testing {

struct SimOptions {
  uint64_t seed = 1;
  int voters = 3;       // initial members
  int spare_nodes = 2;  // started without membership; added and removed by config changes
  int steps = 3000;
  int steps_per_tick =
      4;  // Raft ticks once every this many steps (messages take 1..max_delay steps)
  int max_delay = 6;
  double drop = 0.05;
  double duplicate = 0.03;
  double crash = 0.002;          // per step: one node crashes
  double crash_mid_ready = 0.2;  // of crashes: between persisting a Ready and sending it (for a
                                 // leader, which sends first: after sending, before persisting)
  int max_down_steps = 300;
  double partition = 0.002;  // per step: the nodes split in two for a while
  int max_partition_steps = 400;
  double config_change = 0.002;  // per step: the leader adds or removes one member
  // Of real vote requests sent while a leader of an older term still serves: the voter's links
  // come back and the vote is held until the voter has persisted entries from that leader
  // (appends delivered between the pre-vote and the vote); then the voter restarts (forgetting
  // the leader it heard, so no lease shields it) and the vote arrives. Delivered plainly after
  // vote_race_steps if its log never grows. The one case where a real vote must check the log
  // itself: the pre-vote before it was granted to what was then an up-to-date log.
  double vote_race = 0.2;
  int vote_race_steps = 80;
  int clients = 3;
  int keys = 4;
  double client_start = 0.2;    // per step, per idle client
  int client_timeout = 150;     // steps before a client gives up waiting
  uint64_t compact_after = 20;  // applied entries kept in the log before compacting
  bool trace = false;           // print every event (for replaying a failing seed)
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, at which step
  int leaders_elected = 0;
  int writes_acknowledged = 0;
  int reads_answered = 0;
  int crashes = 0;
  int crashes_before_persist = 0;  // leaders that crashed with their appends sent and not persisted
  int snapshots_installed = 0;
  int config_changes = 0;
  int vote_races = 0;  // held votes delivered after the voter's log grew and it restarted
  uint64_t final_commit = 0;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace medvault::raft::testing
