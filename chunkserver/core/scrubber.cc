#include "chunkserver/core/scrubber.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace medvault::chunkserver {

Scrubber::Scrubber(ChunkStore* store, ScrubberOptions options,
                   std::function<void(const ScrubProgress&)> progress)
    : store_(store), options_(options), progress_(std::move(progress)) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Scrubber::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Scrubber::WaitOrStop(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
  return stop_;
}

uint64_t Scrubber::RunPass(bool paced, bool* completed) {
  if (completed != nullptr) *completed = false;
  const uint64_t total = std::max<uint64_t>(1, store_->chunk_count());
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
      p.pass_fraction = std::min(1.0, static_cast<double>(++done) / static_cast<double>(total));
      if (progress_) progress_(p);
      const absl::Duration pace =
          paced ? absl::Seconds(static_cast<double>(entry.size) /
                                static_cast<double>(options_.bytes_per_second))
                : absl::ZeroDuration();
      if (WaitOrStop(pace)) return corrupt;
    }
    if (!page->more || page->entries.empty()) break;
    start_after = page->entries.back().id;
  }
  if (completed != nullptr) *completed = true;
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
    if (!completed) return;
    MV_LOG(INFO) << "scrub pass complete: " << corrupt << " corrupt chunks quarantined";
    if (WaitOrStop(options_.pass_interval)) return;
  }
}

}  // namespace medvault::chunkserver
