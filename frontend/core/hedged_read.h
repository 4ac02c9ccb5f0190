// Reads one chunk from its replicas with hedging: the first replica is asked; if it has not
// answered within the hedge delay the next is asked too (and so on), and the first answer that
// passes the caller's checks wins; the others are cancelled. An answer that fails moves on to the
// next replica at once (failover). No gRPC here: reads go through ChunkClient::StartRead.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "frontend/core/clients.h"

namespace medvault::frontend {

struct ReplicaAddress {
  std::string server_id;
  std::string address;
};

struct HedgedReadOptions {
  // How long a replica may take before the next one is asked as well. InfiniteDuration(): never
  // hedge (the next replica is asked only after an error).
  absl::Duration hedge_delay = absl::Milliseconds(200);
  // Checks and decrypts one replica's answer on the calling thread: the plaintext, or why the
  // replica is no good (its read error, DATA_LOSS, ...).
  std::function<absl::StatusOr<std::string>(const ReplicaAddress& replica,
                                            absl::StatusOr<ChunkRead> read)>
      verify;
  // Called (on the calling thread) for each replica whose answer `verify` refused.
  std::function<void(const ReplicaAddress& replica, const absl::Status& error)> on_error;
};

struct HedgedReadCounters {
  uint64_t hedges = 0;     // replicas asked because an earlier one was slow
  uint64_t failovers = 0;  // replicas asked because an earlier one failed
};

// The first verified answer among `replicas`, tried in order; the last error when none is good
// (UNAVAILABLE when `replicas` is empty). Returns without waiting for slower replicas.
absl::StatusOr<std::string> HedgedRead(ChunkClient* client, const std::string& chunk_id,
                                       const std::vector<ReplicaAddress>& replicas,
                                       const HedgedReadOptions& options,
                                       HedgedReadCounters* counters);

}  // namespace medvault::frontend
