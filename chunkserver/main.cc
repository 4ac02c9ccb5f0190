// chunkserver: stores ciphertext chunks under random ids in --data_dir, serves
// medvault.v1.ChunkService and heartbeats to the metaserver. It never sees a key or plaintext.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "chunkserver/core/chunk_store.h"
#include "chunkserver/core/heartbeater.h"
#include "chunkserver/core/pack_chunk_store.h"
#include "chunkserver/core/scrubber.h"
#include "chunkserver/core/server_identity.h"
#include "chunkserver/service/chunk_server_metrics.h"
#include "chunkserver/service/chunk_service.h"
#include "chunkserver/service/heartbeat_client.h"
#include "common/env.h"
#include "common/log.h"
#include "common/periodic_task.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "common/tls_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC address host:port (port 0 picks a free one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "Prometheus /metrics address host:port; empty disables");
ABSL_FLAG(std::string, data_dir, "", "Directory holding the chunks and the server id");
ABSL_FLAG(std::string, metaserver, "",
          "Metaserver group host:port[,host:port...] to heartbeat to (its leader)");
ABSL_FLAG(std::string, failure_domain, "", "Failure-domain label (rack, host, zone); may be empty");
ABSL_FLAG(int32_t, heartbeat_interval_ms, 1000, "Milliseconds between heartbeats");
ABSL_FLAG(uint64_t, max_bytes, 0,
          "Quota for chunk files in bytes (writes beyond it are RESOURCE_EXHAUSTED); 0: the "
          "filesystem's size");
ABSL_FLAG(uint64_t, scrub_bytes_per_second, 16ull << 20,
          "Background re-verification rate in bytes/s; 0 disables scrubbing");
ABSL_FLAG(int64_t, scrub_pass_interval_s, 86400,
          "Seconds between the end of one scrub pass and the next");
ABSL_FLAG(
    bool, direct_io, false,
    "write chunk files with O_DIRECT (not through the page cache) where the filesystem takes it; "
    "measured neutral to 5% slower on the bench machine (docs/benchmarks.md)");
ABSL_FLAG(std::string, chunk_store, "",
          "Chunk layout: 'pack' (chunks appended to large extent files with group-committed "
          "fdatasync) or 'files' (one file per chunk; docs/architecture.md). Empty (the default): "
          "the layout --data_dir already holds chunks in, else 'pack'");
ABSL_FLAG(uint64_t, pack_extent_mb, 256, "--chunk_store=pack: size of an extent file in MiB");
ABSL_FLAG(double, pack_compact_dead_fraction, 0.5,
          "--chunk_store=pack: rewrite an extent once this fraction of it is dead");
ABSL_FLAG(int32_t, pack_compact_interval_s, 10,
          "--chunk_store=pack: seconds between looks for an extent to compact");
ABSL_FLAG(
    std::string, advertise_address, "",
    "host:port other services use to reach this server (default: the bound --listen address)");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "chunkserver: %s\n", message.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  medvault::SetLogTag("chunkserver");
  medvault::InstallTerminationHandlers();
  absl::ParseCommandLine(argc, argv);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string metaserver = absl::GetFlag(FLAGS_metaserver);
  const int32_t interval_ms = absl::GetFlag(FLAGS_heartbeat_interval_ms);
  if (data_dir.empty()) Die("--data_dir is required");
  if (metaserver.empty()) Die("--metaserver is required");
  if (interval_ms <= 0) Die("--heartbeat_interval_ms must be positive");
  const absl::Duration interval = absl::Milliseconds(interval_ms);

  medvault::Filesystem* fs = absl::GetFlag(FLAGS_direct_io)
                                 ? medvault::NewPosixFilesystem(/*direct_writes=*/true)
                                       .release()  // lives as long as the process
                                 : medvault::DefaultFilesystem();
  absl::StatusOr<medvault::TransportSecurity> security = medvault::TransportSecurityFromFlags(fs);
  if (!security.ok()) Die(security.status().ToString());
  absl::Status dirs = fs->CreateDirs(data_dir);
  if (!dirs.ok()) Die(absl::StrCat("creating --data_dir: ", dirs.ToString()));
  absl::StatusOr<std::string> server_id = medvault::chunkserver::LoadOrCreateServerId(fs, data_dir);
  if (!server_id.ok()) Die(server_id.status().ToString());

  absl::StatusOr<std::string> chosen =
      medvault::chunkserver::ChooseLayout(fs, data_dir, absl::GetFlag(FLAGS_chunk_store));
  if (!chosen.ok()) Die("--chunk_store: " + chosen.status().ToString());
  const std::string layout = *chosen;
  MV_LOG(INFO) << "chunk layout: " << layout;
  std::unique_ptr<medvault::chunkserver::ChunkStore> store_owner;
  medvault::chunkserver::PackChunkStore* pack = nullptr;
  if (layout == "files") {
    store_owner = std::make_unique<medvault::chunkserver::FileChunkStore>(
        fs, medvault::RealClock(), data_dir,
        medvault::chunkserver::ChunkStoreOptions{absl::GetFlag(FLAGS_max_bytes)});
  } else {
    medvault::chunkserver::PackChunkStoreOptions options;
    options.max_bytes = absl::GetFlag(FLAGS_max_bytes);
    options.extent_bytes = absl::GetFlag(FLAGS_pack_extent_mb) << 20;
    options.compact_dead_fraction = absl::GetFlag(FLAGS_pack_compact_dead_fraction);
    if (options.extent_bytes == 0) Die("--pack_extent_mb must be positive");
    auto owned = std::make_unique<medvault::chunkserver::PackChunkStore>(fs, medvault::RealClock(),
                                                                         data_dir, options);
    pack = owned.get();
    store_owner = std::move(owned);
  }
  medvault::chunkserver::ChunkStore& store = *store_owner;
  absl::Status opened = store.Open();
  if (!opened.ok()) Die(absl::StrCat("opening the chunk store: ", opened.ToString()));
  // Reclaims the space of deleted chunks, one extent after another.
  medvault::PeriodicTask compactor(
      absl::Seconds(std::max(1, absl::GetFlag(FLAGS_pack_compact_interval_s))), [pack] {
        for (;;) {
          absl::StatusOr<bool> compacted = pack->Compact();
          if (!compacted.ok()) MV_LOG(WARNING) << compacted.status();
          if (!compacted.ok() || !*compacted) return;
        }
      });
  if (pack != nullptr) compactor.Start();

  // Declared before the runner so they outlive it; created once the runner's registry exists.
  std::unique_ptr<medvault::chunkserver::ChunkServerMetrics> metrics;
  std::unique_ptr<medvault::chunkserver::Scrubber> scrubber;
  std::unique_ptr<medvault::chunkserver::ChunkServiceImpl> service;
  std::unique_ptr<medvault::Authorizer> authz;
  medvault::ServiceRunner runner(medvault::ServerOptions{
      "chunkserver", absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_metrics_listen), *security,
      medvault::HealthListenFromFlags()});
  metrics = std::make_unique<medvault::chunkserver::ChunkServerMetrics>(runner.registry());
  authz = std::make_unique<medvault::Authorizer>("chunkserver",
                                                 medvault::chunkserver::ChunkServicePolicy(),
                                                 security->is_tls(), runner.registry());
  medvault::chunkserver::ChunkServerMetrics* m = metrics.get();
  medvault::chunkserver::ScrubberOptions scrub_options;
  scrub_options.bytes_per_second = absl::GetFlag(FLAGS_scrub_bytes_per_second);
  scrub_options.pass_interval = absl::Seconds(absl::GetFlag(FLAGS_scrub_pass_interval_s));
  scrubber = std::make_unique<medvault::chunkserver::Scrubber>(
      &store, scrub_options, [m](const medvault::chunkserver::ScrubProgress& p) {
        if (p.pass_done) {
          m->scrub_passes.Increment();
        } else {
          m->scrub_chunks.Increment();
          m->scrub_bytes.Increment(static_cast<double>(p.bytes));
          if (p.corrupt) m->scrub_corrupt.Increment();
        }
        m->scrub_pass_progress.Set(p.pass_fraction);
      });
  service = std::make_unique<medvault::chunkserver::ChunkServiceImpl>(&store, metrics.get(),
                                                                      authz.get(), scrubber.get());
  runner.AddService(service.get());
  absl::Status started = runner.Start();
  if (!started.ok()) Die(started.ToString());

  std::string advertise = absl::GetFlag(FLAGS_advertise_address);
  if (advertise.empty()) advertise = runner.bound_address();
  MV_LOG(INFO) << "server id " << *server_id << ", advertising " << advertise
               << ", heartbeating to " << metaserver << " every " << interval_ms << " ms";

  absl::StatusOr<std::vector<std::string>> metaservers = medvault::ParseAddressList(metaserver);
  if (!metaservers.ok()) Die("--metaserver: " + metaservers.status().ToString());
  medvault::chunkserver::HeartbeatClient client(
      *metaservers, *security, std::max(interval, absl::Seconds(1)), metrics.get(),
      std::clamp(2 * interval, absl::Seconds(1), absl::Seconds(5)));
  medvault::chunkserver::Heartbeater heartbeater(
      &store,
      medvault::chunkserver::HeartbeaterOptions{*server_id, advertise,
                                                absl::GetFlag(FLAGS_failure_domain), interval},
      [&client](const medvault::v1::ChunkServerInfo& info) { return client.Send(info); });
  heartbeater.Start();

  if (scrub_options.bytes_per_second > 0) scrubber->Start();

  runner.Wait();
  scrubber->Stop();
  heartbeater.Stop();
  compactor.Stop();
  MV_LOG(INFO) << "stopped";
  return 0;
}
