// Says when a replica has led its Raft group long enough for background repair to trust its view
// of chunk-server liveness. That view lives in memory and starts empty on each new leader (every
// server looks down until it heartbeats here), so acting on it at once would re-replicate the
// whole cluster. Not thread-safe: one background task owns it.
#pragma once

#include <cstdint>

namespace medvault::metaserver {

class SettledLeadership {
 public:
  // `settle_micros`: how long a leader waits (at least the down interval plus a heartbeat).
  explicit SettledLeadership(int64_t settle_micros) : settle_micros_(settle_micros) {}

  // True when this replica leads in `term` and has since at least settle_micros before `now`.
  bool Settled(bool is_leader, uint64_t term, int64_t now_micros) {
    if (!is_leader) {
      term_ = 0;
      return false;
    }
    if (term != term_) {
      term_ = term;
      since_ = now_micros;
    }
    return now_micros - since_ >= settle_micros_;
  }

 private:
  const int64_t settle_micros_;
  uint64_t term_ = 0;
  int64_t since_ = 0;
};

}  // namespace medvault::metaserver
