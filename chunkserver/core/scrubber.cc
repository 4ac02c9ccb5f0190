#include "chunkserver/core/scrubber.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace medvault::chunkserver {

Scrubber::Scrubber(ChunkStore* store, ScrubberOptions options,
                   std::function<void(const ScrubProgress&)> progress, Clock* clock)
    : store_(store),
      clock_(clock != nullptr ? clock : RealClock()),
      options_(options),
      progress_(std::move(progress)) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() {
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { Run(); });
}

void Scrubber::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status Scrubber::RequestPass() {
  absl::MutexLock lock(&mu_);
  if (!started_) return absl::FailedPreconditionError("scrubbing is disabled on this chunk server");
  requested_ = true;
  status_.running = true;
  status_.chunks_checked = 0;
  status_.bad_found = 0;
  status_.chunks_total = store_->chunk_count();
  status_.started_micros = clock_->NowMicros();
  status_.finished_micros = 0;
  return absl::OkStatus();
}

ScrubStatus Scrubber::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool Scrubber::WaitOrInterrupt(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto interrupted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || requested_; };
  mu_.AwaitWithTimeout(absl::Condition(&interrupted), d);
  return interrupted();
}

uint64_t Scrubber::RunPass(bool paced, bool* completed) {
  if (completed != nullptr) *completed = false;
  const uint64_t stored = store_->chunk_count();
  const uint64_t total = std::max<uint64_t>(1, stored);
  {
    absl::MutexLock lock(&mu_);
    requested_ = false;
    status_.running = true;
    status_.chunks_checked = 0;
    status_.bad_found = 0;
    status_.chunks_total = stored;
    status_.started_micros = clock_->NowMicros();
    status_.finished_micros = 0;
  }
  uint64_t done = 0;
  uint64_t corrupt = 0;
  std::string start_after;
  while (true) {
    absl::StatusOr<ChunkList> page = store_->List(start_after, options_.list_page);
    if (!page.ok()) {
      MV_LOG(WARNING) << "scrub: listing chunks failed: " << page.status();
      return corrupt;
    }
    for (const ChunkListEntry& entry : page->entries) {
      absl::StatusOr<ChunkData> chunk = store_->Read(entry.id);  // quarantines a corrupt file
      ScrubProgress p;
      p.bytes = entry.size;
      p.corrupt = absl::IsDataLoss(chunk.status());
      if (p.corrupt) ++corrupt;
      {
        absl::MutexLock lock(&mu_);
        ++status_.chunks_checked;
        status_.chunks_total = std::max(status_.chunks_total, status_.chunks_checked);
        status_.bad_found = corrupt;
      }
      p.pass_fraction = std::min(1.0, static_cast<double>(++done) / static_cast<double>(total));
      if (progress_) progress_(p);
      const absl::Duration pace =
          paced ? absl::Seconds(static_cast<double>(entry.size) /
                                static_cast<double>(options_.bytes_per_second))
                : absl::ZeroDuration();
      if (WaitOrInterrupt(pace)) return corrupt;
    }
    if (!page->more || page->entries.empty()) break;
    start_after = page->entries.back().id;
  }
  if (completed != nullptr) *completed = true;
  {
    absl::MutexLock lock(&mu_);
    status_.running = false;
    status_.finished_micros = clock_->NowMicros();
    ++status_.passes_completed;
  }
  ScrubProgress p;
  p.pass_done = true;
  p.pass_fraction = 1.0;
  if (progress_) progress_(p);
  return corrupt;
}

void Scrubber::Run() {
  while (true) {
    bool completed = false;
    const uint64_t corrupt = RunPass(true, &completed);
    if (completed) {
      MV_LOG(INFO) << "scrub pass complete: " << corrupt << " corrupt chunks quarantined";
      WaitOrInterrupt(options_.pass_interval);
    }
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    // Otherwise a pass was requested (or the interval passed): start the next one.
  }
}

}  // namespace medvault::chunkserver
