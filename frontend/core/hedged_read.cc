#include "frontend/core/hedged_read.h"

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace medvault::frontend {
namespace {

class DoneRead final : public PendingRead {
 public:
  void Cancel() override {}
};

// Answers arrive here from the readers' threads; it outlives HedgedRead while slow reads finish.
struct Arrivals {
  absl::Mutex mu;
  std::deque<std::pair<size_t, absl::StatusOr<ChunkRead>>> queue ABSL_GUARDED_BY(mu);
};

bool HasArrival(std::deque<std::pair<size_t, absl::StatusOr<ChunkRead>>>* queue) {
  return !queue->empty();
}

}  // namespace

std::unique_ptr<PendingRead> ChunkClient::StartRead(const std::string& address,
                                                    const std::string& chunk_id, ReadDone done) {
  done(ReadChunk(address, chunk_id));
  return std::make_unique<DoneRead>();
}

absl::StatusOr<std::string> HedgedRead(ChunkClient* client, const std::string& chunk_id,
                                       const std::vector<ReplicaAddress>& replicas,
                                       const HedgedReadOptions& options,
                                       HedgedReadCounters* counters) {
  if (replicas.empty()) return absl::UnavailableError("no replica is registered");
  auto arrivals = std::make_shared<Arrivals>();
  std::vector<std::unique_ptr<PendingRead>> pending;
  size_t next = 0;         // the next replica to ask
  size_t outstanding = 0;  // asked and not yet answered (to this loop)
  // Never called with arrivals->mu held: a synchronous client answers inside StartRead.
  auto ask_next = [&] {
    const size_t i = next++;
    ++outstanding;
    pending.push_back(client->StartRead(replicas[i].address, chunk_id,
                                        [arrivals, i](absl::StatusOr<ChunkRead> r) {
                                          absl::MutexLock lock(&arrivals->mu);
                                          arrivals->queue.emplace_back(i, std::move(r));
                                        }));
  };
  auto cancel_all = [&] {
    for (const auto& p : pending) p->Cancel();
  };

  absl::Status last_error = absl::UnavailableError("no replica answered");
  ask_next();
  while (outstanding > 0) {
    std::optional<std::pair<size_t, absl::StatusOr<ChunkRead>>> got;
    {
      absl::MutexLock lock(&arrivals->mu);
      const absl::Condition arrived(&HasArrival, &arrivals->queue);
      if (next < replicas.size()) {
        arrivals->mu.AwaitWithTimeout(arrived, options.hedge_delay);
      } else {
        arrivals->mu.Await(arrived);
      }
      if (!arrivals->queue.empty()) {
        got = std::move(arrivals->queue.front());
        arrivals->queue.pop_front();
      }
    }
    if (!got.has_value()) {  // the replicas asked are slow: ask one more as well
      if (counters != nullptr) ++counters->hedges;
      ask_next();
      continue;
    }
    --outstanding;
    const ReplicaAddress& replica = replicas[got->first];
    absl::StatusOr<std::string> plain = options.verify(replica, std::move(got->second));
    if (plain.ok()) {
      cancel_all();
      return plain;
    }
    last_error = plain.status();
    if (options.on_error) options.on_error(replica, last_error);
    if (next < replicas.size()) {
      if (counters != nullptr) ++counters->failovers;
      ask_next();
    }
  }
  return last_error;
}

}  // namespace medvault::frontend
