// Re-verifies every stored chunk in the background at a bounded rate, so rot is found before a
// reader needs the replica: each pass walks the store in id order and reads every chunk (the read
// checks the CRC32C and that the file holds the chunk it is named for; a corrupt file is
// quarantined and queued for the next heartbeat, which tells the metaserver to replace the replica
// from a good one). An operator can start a pass at once (RequestPass: `medvault scrub start`) and
// follow it (status()). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunkserver/core/chunk_store.h"
#include "common/env.h"

namespace medvault::chunkserver {

struct ScrubberOptions {
  // Bytes verified per second (reads are paced to this); must be positive.
  uint64_t bytes_per_second = 16ull << 20;
  // Pause between the end of one pass and the start of the next.
  absl::Duration pass_interval = absl::Hours(24);
  // Chunk ids listed at a time.
  uint32_t list_page = 1000;
};

// What a scrub reports as it goes, for metrics.
struct ScrubProgress {
  uint64_t bytes = 0;        // bytes just verified (one chunk)
  bool corrupt = false;      // that chunk failed verification (and was quarantined)
  double pass_fraction = 0;  // of this pass's chunks, done so far (0..1)
  bool pass_done = false;    // a pass just completed (bytes is 0)
};

// Where the current or last pass stands.
struct ScrubStatus {
  bool running = false;         // a pass is under way (or requested and about to start)
  uint64_t chunks_checked = 0;  // of this pass
  uint64_t chunks_total = 0;    // chunks stored when this pass started
  uint64_t bad_found = 0;       // corrupt replicas this pass found (and quarantined)
  int64_t started_micros = 0;   // of this pass; 0 before the first
  int64_t finished_micros = 0;  // of the last completed pass; 0 while running or before the first
  uint64_t passes_completed = 0;
};

class Scrubber {
 public:
  // `store` and `clock` (null: the real clock) must outlive the scrubber; `progress` (may be null)
  // is called from its thread.
  Scrubber(ChunkStore* store, ScrubberOptions options,
           std::function<void(const ScrubProgress&)> progress, Clock* clock = nullptr);
  ~Scrubber();  // Stops.
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // REQUIRES: called at most once. The first pass starts at once.
  void Start();
  // Wakes the thread and joins. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Starts a new pass now (abandoning one under way, so it covers every chunk stored now); status()
  // says running from this call on. FAILED_PRECONDITION unless Start() was called (scrubbing is
  // disabled).
  absl::Status RequestPass() ABSL_LOCKS_EXCLUDED(mu_);
  ScrubStatus status() const ABSL_LOCKS_EXCLUDED(mu_);

  // One whole pass on the calling thread, unpaced when `paced` is false (tests). Returns the
  // number of corrupt chunks found; stops early (false in *completed) when Stop() or RequestPass()
  // is called.
  uint64_t RunPass(bool paced, bool* completed = nullptr) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits `d` or until stopped or a pass is requested; true when either happened.
  bool WaitOrInterrupt(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  ChunkStore* const store_;
  Clock* const clock_;
  const ScrubberOptions options_;
  const std::function<void(const ScrubProgress&)> progress_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  ScrubStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::chunkserver
