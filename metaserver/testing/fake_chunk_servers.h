// Chunk servers in memory for metaserver core tests, keyed by address: each holds chunk id ->
// (bytes, age in seconds). An address in `failing` answers UNAVAILABLE to everything.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "metaserver/core/clients.h"

namespace medvault::metaserver::testing {

class FakeChunkServers : public ChunkServerClient {
 public:
  struct Stored {
    std::string data;
    uint64_t age = 0;
  };

  absl::Status DeleteChunks(const std::string& address,
                            const std::vector<std::string>& ids) override {
    absl::MutexLock lock(&mu);
    ++delete_calls[address];
    if (failing.count(address)) return absl::UnavailableError("injected");
    for (const std::string& id : ids) chunks[address].erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<ChunkListPage> ListChunks(const std::string& address,
                                           absl::string_view start_after, uint32_t limit) override {
    absl::MutexLock lock(&mu);
    ++list_calls[address];
    if (failing.count(address)) return absl::UnavailableError("injected");
    ChunkListPage page;
    const auto& held = chunks[address];
    for (auto it = held.upper_bound(std::string(start_after)); it != held.end(); ++it) {
      if (page.chunks.size() == limit) {
        page.more = true;
        break;
      }
      page.chunks.push_back(ChunkListEntry{it->first, it->second.data.size() + 16, it->second.age});
    }
    return page;
  }
  absl::StatusOr<ChunkBytes> ReadChunk(const std::string& address, const std::string& id) override {
    absl::MutexLock lock(&mu);
    if (failing.count(address)) return absl::UnavailableError("injected");
    auto it = chunks[address].find(id);
    if (it == chunks[address].end()) return absl::NotFoundError("no such chunk");
    return ChunkBytes{it->second.data, Crc32c(it->second.data)};
  }
  absl::Status WriteChunk(const std::string& address, const std::string& id,
                          const std::string& data, uint32_t crc32c) override {
    absl::MutexLock lock(&mu);
    if (failing.count(address) || full.count(address)) {
      return failing.count(address) ? absl::UnavailableError("injected")
                                    : absl::ResourceExhaustedError("full");
    }
    if (Crc32c(data) != crc32c) return absl::DataLossError("crc");
    chunks[address][id] = Stored{data, 0};
    ++writes[address];
    return absl::OkStatus();
  }

  // Test-side helpers (not part of the interface).
  void Put(const std::string& address, const std::string& id, const std::string& data,
           uint64_t age = 0) {
    absl::MutexLock lock(&mu);
    chunks[address][id] = Stored{data, age};
  }
  bool Has(const std::string& address, const std::string& id) {
    absl::MutexLock lock(&mu);
    return chunks[address].count(id) > 0;
  }

  absl::Mutex mu;
  std::map<std::string, std::map<std::string, Stored>> chunks;
  std::set<std::string> failing;
  std::set<std::string> full;  // WriteChunk answers RESOURCE_EXHAUSTED
  std::map<std::string, int> delete_calls;
  std::map<std::string, int> list_calls;
  std::map<std::string, int> writes;
};

}  // namespace medvault::metaserver::testing
