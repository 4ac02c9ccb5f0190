// What the frontend's core is configured with, and what it counts and times: shared by the core
// (image_store_core.h) and the put path (put_session.h), which is built from collaborators rather
// than from the core itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace medvault::frontend {

struct FrontendOptions {
  // Plaintext bytes per chunk. 1 MiB: see docs/architecture.md for the measurement behind it.
  uint32_t chunk_size = 1 << 20;
  // Replicas written for every chunk before a put is acknowledged.
  uint32_t replicas = 3;
  // Keys fetched from the key service per refill of the pool.
  uint32_t dek_batch = 16;
  // A put whose first chunk write is older than this when it would commit is not committed
  // (DEADLINE_EXCEEDED): the metaserver collects unreferenced chunks older than its orphan grace
  // (>= 600 s), so a slower put could otherwise commit chunks that were already reclaimed.
  int64_t max_write_seconds = 300;
  // Chunks of one put being written at once (each to every replica). 8 × 1 MiB keeps the chunk
  // servers' disks busy while the upload goes on, and bounds a put's sealed bytes in memory.
  uint32_t max_chunks_in_flight = 8;
  // Fewest placements asked for when a put needs more (it does not know its size in advance;
  // each request asks for at least as many as the put has used so far).
  uint32_t placement_batch = 16;
  // Placements a frontend leases ahead for small puts (chunk_placer.h; 0: every put asks the
  // metaserver) and how long it may use each: a CT slice then costs no AllocateChunks of its own.
  // Off by default: the gain did not show in CPU on a loaded machine, and a lease sees a server
  // that joins, drains or frees space only once it is used up or expired (docs/benchmarks.md).
  uint32_t placement_lease_chunks = 0;
  int64_t placement_lease_micros = 5'000'000;
  // A chunk read not answered by its replica within this long is also asked of the next replica,
  // and the first good answer wins (a slow or stopped server costs one delay, not a timeout).
  // 200 ms: far above a healthy 1 MiB chunk read on a LAN (a few ms), so hedges stay rare and
  // add little load. InfiniteDuration() disables hedging (failover on errors only).
  absl::Duration read_hedge_delay = absl::Milliseconds(200);
  // Chunks of one read fetched at once: the one being decrypted and sent, and those after it
  // within the range asked for. Their ciphertext is fetched and checked while the key release
  // (an audited, replicated write in the key service) is still on its way.
  uint32_t read_window_chunks = 4;
  // Sealed chunks all puts and reads together may hold beyond the one each is working on (their
  // windows above grow only with these; slot_pool.h). 256 × ~1 MiB: a frontend's transfer
  // memory stays near 256 MiB plus one chunk per transfer, however many run.
  uint32_t chunk_budget = 256;
  // A study or series retrieval (set_retrieval.h) reads up to this many instances ahead of the
  // one it is sending, holding at most read_ahead_bytes of their plaintext (an instance larger
  // than that is streamed alone, chunk by chunk), and looks the set's manifests up this many at
  // once.
  uint32_t read_ahead_instances = 8;
  uint64_t read_ahead_bytes = 64 << 20;
  uint32_t set_lookups_in_parallel = 8;
  // Instance manifests held by the frontend's manifest cache (manifest_cache.h; 0: no cache) and
  // for how long each may be used after its lookup.
  size_t manifest_cache_entries = 0;
  absl::Duration manifest_cache_ttl = absl::Seconds(60);
  // How long a study key grant serves a caller's reads of a study after its one audited release
  // (key_grants.h); zero: no grants, every read releases its own key.
  absl::Duration key_grant_ttl = absl::ZeroDuration();
  // How often expired grants are dropped and their keys wiped by a thread of their own.
  absl::Duration key_grant_sweep_interval = absl::Seconds(1);
};

// Counters the service layer exports as metrics. Thread-safe.
struct CoreStats {
  std::atomic<uint64_t> replica_write_failures{0};
  std::atomic<uint64_t> read_failovers{0};
  // Chunk reads also asked of another replica because the first was slow.
  std::atomic<uint64_t> hedged_reads{0};
  std::atomic<uint64_t> bad_replicas_reported{0};
  std::atomic<uint64_t> abandoned_puts{0};
  // Commits whose outcome was unknown (deadline, lost connection) and not resolved by a lookup.
  std::atomic<uint64_t> uncertain_commits{0};
  // Times a put waited for its window of chunk writes (or, at its end, for the last ones): the
  // chunk servers, not the upload, were the slower side.
  std::atomic<uint64_t> put_window_waits{0};
  // Chunks written again on other servers after a replica write failed (a server down or full
  // in the moment before the metaserver knows).
  std::atomic<uint64_t> chunks_replaced{0};
};

// Where one put spent its time, in seconds per stage (the service exports them as
// medvault_frontend_put_stage_seconds{stage}). A stage not reached stays 0. The stages overlap
// with the upload: their sum is less than the put's latency when the client is the slower side.
struct PutTimings {
  double parse = 0;   // DICOM parse and SHA-256 of the pieces, as they arrive
  double lookup = 0;  // confirming a re-send (only when placement says the UID is stored)
  double key = 0;     // taking a data key from the pool (a key-service round trip when empty)
  double place = 0;   // chunk placement and the re-send hint (AllocateChunks)
  double seal = 0;    // AES-GCM encryption and CRC32C of the chunks
  double write = 0;   // waiting for replica writes: the window full, and the last ones at the end
  double commit = 0;  // manifest commit (CommitInstance: Raft-replicated)
};

// Where one single-instance read spent its time, in seconds per stage (the service exports them
// as medvault_frontend_get_stage_seconds{stage}). The key release runs beside the first chunk's
// fetch, so `key` is only what the read waited for it after that chunk had arrived.
struct GetTimings {
  double lookup = 0;   // the manifest lookup (metaserver GetInstance; or the manifest cache)
  double fetch = 0;    // waiting for sealed chunks from the replicas (CRC32C checked)
  double key = 0;      // waiting for the data key: a grant's, or an audited release
  double decrypt = 0;  // AES-GCM of the chunks
  double send = 0;     // handing plaintext to the client's stream (flow control included)
};

}  // namespace medvault::frontend
