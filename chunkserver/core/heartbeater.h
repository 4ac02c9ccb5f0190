// Tells the metaserver, every interval, that this chunk server is alive and how full it is. The
// sending itself (a gRPC call in production, a fake in tests) is injected.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunkserver/core/chunk_store.h"
#include "medvault/v1/metaserver.pb.h"

namespace medvault::chunkserver {

// Delivers one heartbeat. Called from the heartbeater's thread only, one call at a time.
using HeartbeatSender = std::function<absl::Status(const v1::ChunkServerInfo&)>;

struct HeartbeaterOptions {
  std::string server_id;
  std::string address;  // host:port where the ChunkService is reachable
  std::string failure_domain;
  absl::Duration interval = absl::Seconds(1);
};

// Each heartbeat also carries the ids the store quarantined since the last delivered one.
// Runs one background thread: the first heartbeat goes out immediately on Start(), then one every
// interval (measured from the end of the previous send). A failure is logged once when heartbeats
// start failing and once when they recover, not on every attempt. Thread-safe.
class Heartbeater {
 public:
  // `store` must outlive the heartbeater.
  Heartbeater(ChunkStore* store, HeartbeaterOptions options, HeartbeatSender sender);
  ~Heartbeater();  // Stops.
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;

  // Starts the thread. REQUIRES: called at most once.
  void Start();
  // Wakes the thread at once, waits for a send in progress to finish and joins. Idempotent.
  void Stop();

  // This server's current description (disk space from the filesystem; capacity and free are 0
  // when the filesystem cannot report them).
  v1::ChunkServerInfo CurrentInfo();

 private:
  void Run();
  void SendOnce();

  ChunkStore* const store_;
  const HeartbeaterOptions options_;
  const HeartbeatSender sender_;
  std::thread thread_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Only touched by the heartbeat thread.
  bool failing_ = false;
};

}  // namespace medvault::chunkserver
