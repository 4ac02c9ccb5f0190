#include "metaserver/core/registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "medvault/v1/metaserver_store.pb.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {
namespace {

constexpr size_t kChunkIdBytes = 16;

// The failure domain placement spreads over: the label, or the server itself when unlabelled.
std::string DomainKey(const v1::ChunkServerInfo& info) {
  if (!info.failure_domain().empty()) return absl::StrCat("d:", info.failure_domain());
  return absl::StrCat("s:", info.server_id());
}

}  // namespace

ChunkServerRegistry::ChunkServerRegistry(KvStore* kv, Clock* clock, RegistryOptions options,
                                         uint64_t seed, BatchWriter* writer)
    : kv_(kv),
      default_writer_(kv),
      writer_(writer != nullptr ? writer : &default_writer_),
      clock_(clock),
      options_(options),
      rng_(seed) {}

absl::Status ChunkServerRegistry::Load() {
  std::map<std::string, Entry> loaded;
  std::unique_ptr<rocksdb::Iterator> it = kv_->NewIterator(kServersCf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::StoredChunkServer stored;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return KvReader::CorruptRecord(kServersCf);
    }
    Entry entry;
    entry.info.set_server_id(stored.server_id());
    entry.info.set_address(stored.address());
    entry.info.set_failure_domain(stored.failure_domain());
    entry.registered_at_micros = stored.registered_at_micros();
    entry.draining = stored.draining();
    loaded[stored.server_id()] = std::move(entry);
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "loading chunk servers"));
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  loaded_at_micros_ = now;
  for (auto& [id, entry] : loaded) {
    auto [it, inserted] = servers_.emplace(id, entry);
    if (!inserted) it->second.draining = entry.draining;  // may have changed under another leader
  }
  MV_LOG(INFO) << "loaded " << loaded.size() << " registered chunk servers";
  return absl::OkStatus();
}

absl::Status ChunkServerRegistry::Heartbeat(const v1::ChunkServerInfo& info) {
  if (info.server_id().empty()) return absl::InvalidArgumentError("heartbeat without a server id");
  if (info.address().empty()) return absl::InvalidArgumentError("heartbeat without an address");
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(info.server_id());
  const bool is_new = it == servers_.end();
  if (is_new || it->second.info.address() != info.address() ||
      it->second.info.failure_domain() != info.failure_domain()) {
    Entry updated;
    updated.info = info;
    updated.registered_at_micros = is_new ? now : it->second.registered_at_micros;
    updated.draining = !is_new && it->second.draining;
    RETURN_IF_ERROR(Annotate(Persist(info.server_id(), updated), "registering chunk server"));
    MV_LOG(INFO) << (is_new ? "registered" : "updated") << " chunk server " << info.server_id()
                 << " at " << info.address() << " domain '" << info.failure_domain() << "'";
    if (is_new) {
      it = servers_.emplace(info.server_id(), Entry()).first;
      it->second.registered_at_micros = now;
    }
  }
  it->second.info = info;
  it->second.info.clear_quarantined_chunk_ids();  // handed to the repairer, not kept here
  it->second.last_heartbeat_micros = now;
  return absl::OkStatus();
}

absl::Status ChunkServerRegistry::Persist(const std::string& server_id, const Entry& entry) {
  v1::StoredChunkServer stored;
  stored.set_server_id(server_id);
  stored.set_address(entry.info.address());
  stored.set_failure_domain(entry.info.failure_domain());
  stored.set_registered_at_micros(entry.registered_at_micros);
  stored.set_draining(entry.draining);
  rocksdb::WriteBatch batch;
  batch.Put(kv_->cf(kServersCf), server_id, Encode(stored));
  return writer_->Write(&batch);
}

absl::Status ChunkServerRegistry::SetDraining(absl::string_view server_id, bool draining) {
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(std::string(server_id));
  if (it == servers_.end())
    return absl::NotFoundError(absl::StrCat("chunk server ", server_id, " is not registered"));
  if (it->second.draining == draining) return absl::OkStatus();
  Entry updated = it->second;
  updated.draining = draining;
  RETURN_IF_ERROR(Annotate(Persist(it->first, updated), "recording drain"));
  it->second.draining = draining;
  it->second.drained = false;
  MV_LOG(INFO) << (draining ? "draining" : "no longer draining") << " chunk server " << server_id;
  return absl::OkStatus();
}

void ChunkServerRegistry::SetDrained(const std::vector<std::string>& drained_ids) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : servers_) {
    entry.drained = entry.draining &&
                    std::find(drained_ids.begin(), drained_ids.end(), id) != drained_ids.end();
  }
}

std::vector<v1::ChunkServerInfo> ChunkServerRegistry::ChooseRepairTargets(
    const std::vector<std::string>& exclude, const std::vector<std::string>& used_domains,
    size_t count) {
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  std::set<std::string> domains;
  for (const std::string& id : used_domains) {
    auto it = servers_.find(id);
    if (it != servers_.end()) domains.insert(DomainKey(it->second.info));
  }
  std::vector<const v1::ChunkServerInfo*> eligible;
  for (const auto& [id, entry] : servers_) {
    if (!IsUp(entry, now) || entry.draining || entry.info.free_bytes() < options_.min_free_bytes)
      continue;
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
    eligible.push_back(&entry.info);
  }
  std::shuffle(eligible.begin(), eligible.end(), rng_);
  // First one server per unused failure domain, then (too few domains) any other.
  std::vector<v1::ChunkServerInfo> out;
  std::vector<bool> taken(eligible.size(), false);
  for (size_t i = 0; i < eligible.size() && out.size() < count; ++i) {
    if (domains.insert(DomainKey(*eligible[i])).second) {
      taken[i] = true;
      out.push_back(*eligible[i]);
    }
  }
  for (size_t i = 0; i < eligible.size() && out.size() < count; ++i) {
    if (!taken[i]) out.push_back(*eligible[i]);
  }
  return out;
}

bool ChunkServerRegistry::IsUp(const Entry& entry, int64_t now) const {
  return entry.last_heartbeat_micros != 0 &&
         now - entry.last_heartbeat_micros < options_.down_after_micros;
}

v1::ChunkServerStatus ChunkServerRegistry::StatusOf(const Entry& entry, int64_t now) const {
  v1::ChunkServerStatus status;
  *status.mutable_server() = entry.info;
  status.set_up(IsUp(entry, now));
  status.set_last_heartbeat_micros(entry.last_heartbeat_micros);
  status.set_draining(entry.draining);
  status.set_drained(entry.drained);
  return status;
}

std::vector<v1::ChunkServerStatus> ChunkServerRegistry::List() const {
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  std::vector<v1::ChunkServerStatus> out;
  out.reserve(servers_.size());
  for (const auto& [id, entry] : servers_) out.push_back(StatusOf(entry, now));
  return out;
}

std::optional<v1::ChunkServerStatus> ChunkServerRegistry::Find(absl::string_view server_id) const {
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(std::string(server_id));
  if (it == servers_.end()) return std::nullopt;
  return StatusOf(it->second, now);
}

absl::StatusOr<std::string> ChunkServerRegistry::AddressOf(absl::string_view server_id) const {
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(std::string(server_id));
  if (it == servers_.end())
    return absl::NotFoundError(absl::StrCat("chunk server ", server_id, " is not registered"));
  return it->second.info.address();
}

ChunkServerRegistry::Counts ChunkServerRegistry::CountUpDown() const {
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  Counts counts;
  for (const auto& [id, entry] : servers_) (IsUp(entry, now) ? counts.up : counts.down)++;
  return counts;
}

absl::StatusOr<std::vector<v1::ChunkPlacement>> ChunkServerRegistry::Place(
    uint32_t chunk_count, uint32_t replicas, const std::set<std::string>& exclude) {
  if (replicas < 1 || replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(absl::StrCat("replicas must be 1..", kMaxReplicas));
  }
  if (chunk_count < 1 || chunk_count > kMaxChunksPerAllocation) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_count must be 1..", kMaxChunksPerAllocation));
  }
  ASSIGN_OR_RETURN(std::string ids, RandomBytes(kChunkIdBytes * chunk_count));
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  std::vector<const v1::ChunkServerInfo*> eligible;
  size_t up = 0;
  size_t unheard = 0;  // registered, not heard from since the warm-up began, maybe up
  const bool warming = now - loaded_at_micros_ < options_.down_after_micros;
  for (const auto& [id, entry] : servers_) {
    if (entry.draining || exclude.count(id) > 0) continue;
    if (!IsUp(entry, now)) {
      if (warming && entry.last_heartbeat_micros < loaded_at_micros_) ++unheard;
      continue;
    }
    ++up;
    if (entry.info.free_bytes() >= options_.min_free_bytes) eligible.push_back(&entry.info);
  }
  if (up < replicas) {
    const std::string why =
        absl::StrCat("placement needs ", replicas, " chunk servers up, ", up, " are",
                     exclude.empty() ? "" : absl::StrCat(" (", exclude.size(), " excluded)"));
    // A registry that just loaded (a new leader) has not heard from every server yet: those
    // may be up, and their next heartbeat says so. Otherwise retrying cannot help.
    if (up + unheard >= replicas) {
      return absl::UnavailableError(absl::StrCat(why, "; ", unheard,
                                                 " more not heard from since this metaserver "
                                                 "took over, retry shortly"));
    }
    return absl::FailedPreconditionError(why);
  }
  if (eligible.size() < replicas) {
    return absl::ResourceExhaustedError(
        absl::StrCat("placement needs ", replicas, " chunk servers up with at least ",
                     options_.min_free_bytes, " bytes free, ", eligible.size(), " are"));
  }

  std::vector<v1::ChunkPlacement> placements(chunk_count);
  std::vector<const v1::ChunkServerInfo*> order = eligible;
  std::vector<bool> taken(order.size());
  std::set<std::string> domains;
  for (uint32_t c = 0; c < chunk_count; ++c) {
    v1::ChunkPlacement& placement = placements[c];
    placement.set_chunk_id(ids.substr(c * kChunkIdBytes, kChunkIdBytes));
    std::shuffle(order.begin(), order.end(), rng_);
    std::fill(taken.begin(), taken.end(), false);
    domains.clear();
    // First one server per unused failure domain, then (too few domains) any unused server.
    for (size_t i = 0;
         i < order.size() && static_cast<uint32_t>(placement.servers_size()) < replicas; ++i) {
      if (domains.insert(DomainKey(*order[i])).second) {
        taken[i] = true;
        *placement.add_servers() = *order[i];
      }
    }
    for (size_t i = 0;
         i < order.size() && static_cast<uint32_t>(placement.servers_size()) < replicas; ++i) {
      if (!taken[i]) *placement.add_servers() = *order[i];
    }
  }
  return placements;
}

}  // namespace medvault::metaserver
