#include "chunkserver/core/heartbeater.h"

#include <utility>

#include "common/log.h"

namespace medvault::chunkserver {

Heartbeater::Heartbeater(ChunkStore* store, HeartbeaterOptions options, HeartbeatSender sender)
    : store_(store), options_(std::move(options)), sender_(std::move(sender)) {}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Heartbeater::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

v1::ChunkServerInfo Heartbeater::CurrentInfo() {
  v1::ChunkServerInfo info;
  info.set_server_id(options_.server_id);
  info.set_address(options_.address);
  info.set_failure_domain(options_.failure_domain);
  absl::StatusOr<ChunkStoreStats> stats = store_->Stats();
  if (stats.ok()) {
    info.set_capacity_bytes(stats->capacity_bytes);
    info.set_free_bytes(stats->free_bytes);
    info.set_chunk_count(stats->chunk_count);
  } else {
    info.set_chunk_count(store_->chunk_count());
  }
  return info;
}

void Heartbeater::SendOnce() {
  v1::ChunkServerInfo info = CurrentInfo();
  const std::vector<std::string> quarantined = store_->TakeQuarantined();
  for (const std::string& id : quarantined) info.add_quarantined_chunk_ids(id);
  absl::Status s = sender_(info);
  if (!s.ok()) store_->ReturnQuarantined(quarantined);  // report them with the next heartbeat
  if (!s.ok() && !failing_) {
    MV_LOG(WARNING) << "heartbeat to the metaserver failing: " << s;
  } else if (s.ok() && failing_) {
    MV_LOG(INFO) << "heartbeat to the metaserver succeeding again";
  }
  failing_ = !s.ok();
}

void Heartbeater::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.Unlock();
    SendOnce();
    mu_.Lock();
    // Returns as soon as Stop() sets stop_, or when the interval has passed.
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
  }
}

}  // namespace medvault::chunkserver
