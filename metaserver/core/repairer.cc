#include "metaserver/core/repairer.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::metaserver {
namespace {

// The replica itself is bad (as opposed to its server being unreachable or slow).
bool ReplicaIsBad(const absl::Status& s) { return absl::IsDataLoss(s) || absl::IsNotFound(s); }

}  // namespace

// What one pass knows about the servers and the chunks. Built before any copy starts.
struct Repairer::Census {
  struct Server {
    v1::ChunkServerStatus status;
    bool listed = false;  // its chunk list was read completely
    absl::flat_hash_set<std::string> held;
  };
  std::map<std::string, Server> servers;
  std::vector<Work> queue;
  // (server, chunk) copies no manifest lists, of chunks that are whole: to drop.
  std::vector<std::pair<std::string, std::string>> extras;
  // (server, chunk) replicas found bad: deleted once their manifest no longer lists them.
  std::set<std::pair<std::string, std::string>> bad;
  std::set<std::string> draining_needed;  // draining servers some manifest still lists

  const Server* Find(const std::string& id) const {
    auto it = servers.find(id);
    return it == servers.end() ? nullptr : &it->second;
  }
};

Repairer::Repairer(Catalog* catalog, ChunkServerRegistry* registry, ChunkServerClient* client,
                   Clock* clock, RepairOptions options, ProgressFn progress)
    : catalog_(catalog),
      registry_(registry),
      client_(client),
      clock_(clock),
      options_(std::move(options)),
      progress_(std::move(progress)) {}

void Repairer::ReportSuspect(const std::string& chunk_id, const std::string& server_id) {
  absl::MutexLock lock(&mu_);
  if (suspects_.size() < 100000) suspects_.emplace(server_id, chunk_id);
}

absl::StatusOr<ChunkBytes> Repairer::ReadVerified(const std::string& address,
                                                  const v1::ChunkLocation& chunk) {
  ASSIGN_OR_RETURN(ChunkBytes bytes, client_->ReadChunk(address, chunk.chunk_id()));
  if (bytes.data.size() != chunk.stored_size() || Crc32c(bytes.data) != chunk.crc32c()) {
    return absl::DataLossError(
        absl::StrCat("replica of chunk ", ToHex(chunk.chunk_id()), " does not match its manifest"));
  }
  return bytes;
}

void Repairer::Throttle(uint64_t bytes) {
  if (options_.max_bytes_per_second == 0) return;
  int64_t wait = 0;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMicros();
    next_write_micros_ = std::max(next_write_micros_, now);
    wait = next_write_micros_ - now;
    next_write_micros_ += static_cast<int64_t>(bytes * 1'000'000 / options_.max_bytes_per_second);
  }
  if (wait <= 0) return;
  if (options_.sleep) {
    options_.sleep(wait);
  } else {
    absl::SleepFor(absl::Microseconds(wait));
  }
}

absl::Status Repairer::TakeCensus(Census* census, RepairStats* stats) {
  // The manifest snapshot is taken BEFORE the servers are listed: every chunk it names was written
  // to its servers before the listing started, so "listed server does not hold it" means lost.
  std::unique_ptr<KvReader> snapshot = catalog_->Snapshot();
  for (v1::ChunkServerStatus& status : registry_->List()) {
    Census::Server& server = census->servers[status.server().server_id()];
    server.status = std::move(status);
    if (!server.status.up()) continue;
    std::string start_after;
    server.listed = true;
    while (true) {
      absl::StatusOr<ChunkListPage> page =
          client_->ListChunks(server.status.server().address(), start_after, options_.list_page);
      if (!page.ok()) {
        // Unknown contents: its replicas keep counting, none of its copies is dropped.
        MV_LOG(WARNING) << "repair: listing chunks on server " << server.status.server().server_id()
                        << " failed: " << page.status();
        server.listed = false;
        break;
      }
      for (ChunkListEntry& entry : page->chunks) server.held.insert(std::move(entry.chunk_id));
      if (!page->more || page->chunks.empty()) break;
      start_after = page->chunks.back().chunk_id;
    }
  }
  std::set<std::pair<std::string, std::string>> suspects;
  {
    absl::MutexLock lock(&mu_);
    suspects.swap(suspects_);
  }

  return Catalog::ForEachManifest(*snapshot, [&](const v1::ObjectManifest& manifest) {
    for (int i = 0; i < manifest.chunks_size(); ++i) {
      const v1::ChunkLocation& chunk = manifest.chunks(i);
      ++stats->chunks;
      Work work;
      for (const std::string& id : chunk.server_ids()) {
        const Census::Server* server = census->Find(id);
        if (server == nullptr) continue;  // no longer registered: that replica is gone
        const v1::ChunkServerStatus& st = server->status;
        if (st.draining()) census->draining_needed.insert(id);
        if (!st.up()) {
          work.fallback.push_back(id);
          continue;
        }
        if (server->listed && !server->held.contains(chunk.chunk_id())) {
          census->bad.emplace(id, chunk.chunk_id());  // missing (deleted, quarantined, wiped)
          continue;
        }
        if (suspects.count({id, chunk.chunk_id()}) > 0 &&
            ReplicaIsBad(ReadVerified(st.server().address(), chunk).status())) {
          census->bad.emplace(id, chunk.chunk_id());
          continue;
        }
        (st.draining() ? work.fallback : work.good).push_back(id);
      }
      if (work.good.size() >= options_.replicas) {
        // Whole: any copy on a server the manifest does not list is extra.
        for (const auto& [id, server] : census->servers) {
          if (!server.listed || !server.held.contains(chunk.chunk_id())) continue;
          if (std::find(chunk.server_ids().begin(), chunk.server_ids().end(), id) ==
              chunk.server_ids().end()) {
            census->extras.emplace_back(id, chunk.chunk_id());
          }
        }
        continue;
      }
      work.object_id = manifest.object_id();
      work.index = static_cast<uint32_t>(i);
      work.chunk = chunk;
      census->queue.push_back(std::move(work));
    }
    return true;
  });
}

bool Repairer::Repair(const Work& work, const Census& census, RepairStats* stats) {
  const v1::ChunkLocation& chunk = work.chunk;
  std::vector<std::string> good = work.good;
  std::vector<std::string> sources = good;
  // A draining server's copy is still a valid source.
  for (const std::string& id : work.fallback) {
    const Census::Server* server = census.Find(id);
    if (server != nullptr && server->status.up()) sources.push_back(id);
  }
  absl::StatusOr<ChunkBytes> bytes = absl::UnavailableError("no replica to copy from");
  for (const std::string& id : sources) {
    bytes = ReadVerified(census.Find(id)->status.server().address(), chunk);
    if (bytes.ok()) break;
    MV_LOG(WARNING) << "repair: replica of chunk " << ToHex(chunk.chunk_id()) << " on server " << id
                    << " unreadable: " << bytes.status();
    if (ReplicaIsBad(bytes.status()))
      good.erase(std::remove(good.begin(), good.end(), id), good.end());
  }
  if (!bytes.ok()) return false;

  // A listed server whose replica is missing or bad may take the chunk again (rewriting replaces a
  // corrupt file); good replicas and those on down or draining servers are excluded.
  std::vector<std::string> exclude = good;
  exclude.insert(exclude.end(), work.fallback.begin(), work.fallback.end());
  const size_t need = options_.replicas > good.size() ? options_.replicas - good.size() : 0;
  std::vector<v1::ChunkServerInfo> targets = registry_->ChooseRepairTargets(exclude, good, need);
  std::vector<std::string> written;
  for (const v1::ChunkServerInfo& target : targets) {
    Throttle(bytes->data.size());
    absl::Status s =
        client_->WriteChunk(target.address(), chunk.chunk_id(), bytes->data, chunk.crc32c());
    if (!s.ok()) {
      MV_LOG(WARNING) << "repair: writing chunk " << ToHex(chunk.chunk_id()) << " to server "
                      << target.server_id() << " failed: " << s;
      continue;
    }
    written.push_back(target.server_id());
    if (progress_) progress_(0, bytes->data.size(), false);
  }
  if (written.empty() && good.size() == work.good.size()) return false;

  std::vector<std::string> servers = good;
  servers.insert(servers.end(), written.begin(), written.end());
  // Short of the target still: keep replicas that may yet come back (down or draining servers).
  for (const std::string& id : work.fallback) {
    if (servers.size() >= options_.replicas) break;
    servers.push_back(id);
  }
  if (servers.empty()) return false;
  const std::vector<std::string> expected(chunk.server_ids().begin(), chunk.server_ids().end());
  absl::Status s = catalog_->ReplaceChunkServers(work.object_id, work.index, chunk.chunk_id(),
                                                 expected, servers);
  if (!s.ok()) {
    // The copies just written are unlisted: a later pass drops them (or GC, once unreferenced).
    MV_LOG(WARNING) << "repair: recording replicas of chunk " << ToHex(chunk.chunk_id())
                    << " failed: " << s;
    return false;
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& id : written) rewritten_.emplace(id, chunk.chunk_id());
  stats->replicas_written += written.size();
  stats->repair_bytes += written.size() * bytes->data.size();
  if (!written.empty()) ++stats->repaired;
  if (good.size() + written.size() < options_.replicas) ++stats->still_under_replicated;
  return true;
}

absl::StatusOr<RepairStats> Repairer::RunOnce() {
  absl::MutexLock pass(&pass_mu_);
  RepairStats stats;
  Census census;
  RETURN_IF_ERROR(TakeCensus(&census, &stats));
  stats.under_replicated = census.queue.size();
  // Fewest good replicas first: a chunk with one copy left is the closest to loss.
  std::stable_sort(census.queue.begin(), census.queue.end(),
                   [](const Work& a, const Work& b) { return a.good.size() < b.good.size(); });
  {
    absl::MutexLock lock(&mu_);
    queue_length_ = census.queue.size();
  }
  if (progress_) progress_(census.queue.size(), 0, true);

  std::atomic<size_t> next{0};
  std::vector<std::set<std::string>> done(census.queue.size());
  auto worker = [&] {
    for (size_t i = next++; i < census.queue.size(); i = next++) {
      const bool changed = Repair(census.queue[i], census, &stats);
      uint64_t left;
      {
        absl::MutexLock lock(&mu_);
        if (!changed) {
          ++stats.still_under_replicated;
          if (census.queue[i].good.empty()) ++stats.unavailable;
        }
        left = --queue_length_;
      }
      if (progress_) progress_(left, 0, false);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::max(1, options_.parallelism); ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();

  // Drop unlisted copies of whole chunks, and bad replicas (no manifest lists them any more:
  // a bad replica makes its chunk under-replicated, and its repair leaves it out).
  std::map<std::string, std::vector<std::string>> deletions;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [server, chunk] : census.extras) deletions[server].push_back(chunk);
    for (const auto& pair : census.bad) {
      if (rewritten_.count(pair) == 0)
        deletions[pair.first].push_back(pair.second);  // not just rewritten
    }
    rewritten_.clear();
  }
  for (const auto& [server_id, ids] : deletions) {
    const Census::Server* server = census.Find(server_id);
    if (server == nullptr || !server->status.up()) continue;
    absl::Status s = client_->DeleteChunks(server->status.server().address(), ids);
    if (!s.ok()) {
      MV_LOG(WARNING) << "repair: dropping " << ids.size() << " replicas on server " << server_id
                      << " failed: " << s;
    }
  }
  stats.extra_replicas_dropped = census.extras.size();
  stats.bad_replicas = census.bad.size();

  for (const auto& [id, server] : census.servers) {
    if (server.status.draining() && census.draining_needed.count(id) == 0)
      stats.drained.push_back(id);
  }
  registry_->SetDrained(stats.drained);
  if (stats.under_replicated > 0 || stats.extra_replicas_dropped > 0 || stats.bad_replicas > 0) {
    MV_LOG(INFO) << "repair: " << stats.chunks << " chunks, " << stats.under_replicated
                 << " under-replicated, " << stats.repaired << " repaired (" << stats.repair_bytes
                 << " bytes), " << stats.still_under_replicated << " still under-replicated, "
                 << stats.bad_replicas << " bad and " << stats.extra_replicas_dropped
                 << " extra replicas dropped";
  }
  return stats;
}

}  // namespace medvault::metaserver
