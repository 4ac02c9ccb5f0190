// metaserver: the index (patients, studies, series, instances), object manifests, the chunk-server
// registry and placement, and garbage collection; serves medvault.v1.MetaService. Runs as one
// replica of a Raft group (medvault.v1.RaftService on the same port); only the leader serves.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/group_channels.h"
#include "common/kv.h"
#include "common/kv_shredder.h"
#include "common/log.h"
#include "common/periodic_task.h"
#include "common/rpc.h"
#include "common/shred_log_file.h"
#include "common/tls.h"
#include "common/tls_flags.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/forget_destroyed.h"
#include "metaserver/core/garbage_collector.h"
#include "metaserver/core/offset_file_clock.h"
#include "metaserver/core/registry.h"
#include "metaserver/core/repairer.h"
#include "metaserver/core/retention_enforcer.h"
#include "metaserver/core/settled_leadership.h"
#include "metaserver/core/share_book.h"
#include "metaserver/service/grpc_clients.h"
#include "metaserver/service/meta_metrics.h"
#include "metaserver/service/meta_service.h"
#include "raft/replica.h"
#include "raft/replica_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC address host:port (port 0 picks a free one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "Prometheus /metrics address host:port; empty disables");
ABSL_FLAG(std::string, data_dir, "",
          "Directory of the metadata database (RocksDB at <data_dir>/db)");
ABSL_FLAG(int64_t, down_after_ms, 10000, "A chunk server silent for this long is down");
ABSL_FLAG(int64_t, gc_interval_s, 60, "Seconds between garbage-collection passes; 0 disables them");
ABSL_FLAG(uint64_t, orphan_grace_s, 3600,
          "Unreferenced chunks younger than this many seconds are kept (uploads in flight)");
ABSL_FLAG(
    uint64_t, testing_min_orphan_grace_s, medvault::metaserver::kMinOrphanGraceSeconds,
    "FOR TESTS ONLY: lowers the floor of --orphan_grace_s and of RunGarbageCollection's grace "
    "(default: the safe 600 s). A grace shorter than the frontend's --max_write_seconds can "
    "collect the chunks of a put still writing; never set this in production");
ABSL_FLAG(uint64_t, min_free_bytes, 64ull << 20,
          "Chunk servers with less free space get no new chunks");
ABSL_FLAG(
    std::string, restore_shred_logs, "",
    "With --restore_backup (required then): comma-separated shred logs of the key service "
    "replicas (every old replica's --shred_log you have, as given to the key services); the "
    "objects they list leave the restored index (docs/operations.md, \"Back up and restore\")");
ABSL_FLAG(uint32_t, replicas, 3, "Replica target per chunk that repair restores");
ABSL_FLAG(int64_t, repair_interval_ms, 2000,
          "Milliseconds between repair passes (census of every manifest and chunk server, then "
          "copies); 0 disables");
ABSL_FLAG(uint64_t, repair_bytes_per_second, 100ull << 20,
          "Rate limit of repair copies in bytes/s, so client traffic keeps flowing; 0: unlimited");
ABSL_FLAG(int32_t, repair_parallelism, 4, "Chunks repair copies concurrently");
ABSL_FLAG(int64_t, purge_interval_ms, 1000,
          "Milliseconds between purges of deleted index entries (PHI) from the Raft log, the "
          "write-ahead log and the database files; each purge runs only when something was "
          "deleted");
ABSL_FLAG(std::string, keyservice, "",
          "Key service addresses (comma-separated, every member of its group): the retention task "
          "destroys the keys of the studies it deletes there. Empty: no retention deletions (rules "
          "and legal holds are still kept, and holds still block DeleteStudy)");
ABSL_FLAG(int64_t, retention_interval_s, 60,
          "Seconds between retention passes (the leader deletes studies whose rule is due); 0 "
          "disables them");
ABSL_FLAG(std::string, testing_clock_offset_file, "",
          "FOR TESTS ONLY: the clock of shares and retention runs ahead by the number of seconds "
          "written in this file (read at every reading; absent or empty: 0). Never set this in "
          "production");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "metaserver: %s\n", message.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  namespace ms = medvault::metaserver;
  medvault::SetLogTag("metaserver");
  medvault::InstallTerminationHandlers();
  absl::ParseCommandLine(argc, argv);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const int64_t down_after_ms = absl::GetFlag(FLAGS_down_after_ms);
  const int64_t gc_interval_s = absl::GetFlag(FLAGS_gc_interval_s);
  const uint64_t orphan_grace_s = absl::GetFlag(FLAGS_orphan_grace_s);
  if (data_dir.empty()) Die("--data_dir is required");
  if (down_after_ms <= 0) Die("--down_after_ms must be positive");
  if (gc_interval_s < 0) Die("--gc_interval_s must not be negative");
  const int64_t repair_interval_ms = absl::GetFlag(FLAGS_repair_interval_ms);
  if (repair_interval_ms < 0) Die("--repair_interval_ms must not be negative");
  if (absl::GetFlag(FLAGS_replicas) < 1 || absl::GetFlag(FLAGS_replicas) > ms::kMaxReplicas) {
    Die("--replicas must be 1..5");
  }
  const uint64_t min_orphan_grace_s = absl::GetFlag(FLAGS_testing_min_orphan_grace_s);
  if (min_orphan_grace_s < 1) Die("--testing_min_orphan_grace_s must be at least 1");
  if (min_orphan_grace_s < ms::kMinOrphanGraceSeconds) {
    MV_LOG(WARNING) << "--testing_min_orphan_grace_s=" << min_orphan_grace_s
                    << ": orphan grace floor lowered for tests; unsafe with real uploads";
  }
  if (orphan_grace_s < min_orphan_grace_s) {
    Die("--orphan_grace_s must be at least " + std::to_string(min_orphan_grace_s));
  }

  medvault::Filesystem* fs = medvault::DefaultFilesystem();
  absl::StatusOr<medvault::TransportSecurity> security = medvault::TransportSecurityFromFlags(fs);
  if (!security.ok()) Die(security.status().ToString());
  absl::Status dirs = fs->CreateDirs(data_dir);
  if (!dirs.ok()) Die(absl::StrCat("creating --data_dir: ", dirs.ToString()));
  std::vector<std::string> families = ms::MetaserverColumnFamilies();
  for (const std::string& cf : medvault::raft::RaftColumnFamilies()) families.push_back(cf);
  absl::StatusOr<std::unique_ptr<medvault::KvStore>> kv =
      medvault::KvStore::Open(data_dir + "/db", families);
  if (!kv.ok()) Die(kv.status().ToString());

  // The runner first: the Raft replica records its metrics in the runner's registry.
  medvault::ServiceRunner runner(medvault::ServerOptions{
      "metaserver", absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_metrics_listen), *security,
      medvault::HealthListenFromFlags()});
  medvault::raft::ReplicaOptions replica_options = medvault::raft::ReplicaOptionsFromFlags(
      "metaserver", absl::GetFlag(FLAGS_listen), *security, medvault::kMetaServerPeer);
  // A restored index loses every object whose key was destroyed after the backup (the key
  // services' shred logs), PHI included (docs/security.md, "Backups and crypto-shredding").
  bool restored = false;
  replica_options.after_restore = [&kv, &restored, fs](int64_t taken_unix_micros) {
    absl::StatusOr<std::vector<medvault::ShredLogContents>> logs =
        medvault::ReadShredLogs(fs, absl::GetFlag(FLAGS_restore_shred_logs));
    if (!logs.ok()) return logs.status();
    absl::StatusOr<std::set<std::string>> destroyed =
        medvault::DestroyedSinceBackup(*logs, taken_unix_micros);
    if (!destroyed.ok()) return destroyed.status();
    absl::StatusOr<ms::ForgottenObjects> forgotten =
        ms::ForgetDestroyedObjects(kv->get(), *destroyed, taken_unix_micros);
    if (!forgotten.ok()) return forgotten.status();
    MV_LOG(INFO) << "restore: " << forgotten->instances << " instances whose keys were destroyed "
                 << "after the backup was taken (" << logs->size()
                 << " shred logs) are left out of the index";
    restored = true;
    return absl::OkStatus();
  };
  absl::StatusOr<std::unique_ptr<medvault::raft::Replica>> replica = medvault::raft::Replica::Open(
      kv->get(), ms::MetaserverColumnFamilies(), replica_options, runner.registry());
  if (!replica.ok()) Die(absl::StrCat("raft: ", replica.status().ToString()));
  medvault::raft::ReplicatedKvWriter writer((*replica)->writer());
  // Every replica purges the index entries whose deletion it applies (and everything after a
  // snapshot replaced its state), as the key service shreds destroyed keys.
  medvault::raft::RaftNode* node = (*replica)->node();
  medvault::KvShredder purger(
      kv->get(), ms::PurgedColumnFamilies(), [node] { return node->CompactLog(); },
      medvault::raft::RaftColumnFamilies());
  (*replica)->machine()->set_on_delete(
      [&purger](const std::string& cf, const std::string& key) { purger.Deleted(cf, key); });
  (*replica)->machine()->set_on_restore([&purger] { purger.EverythingChanged(); });
  if (restored) purger.EverythingChanged();  // what the restore removed leaves the disk too

  medvault::Clock* clock = medvault::RealClock();
  // Shares and retention read `policy_clock`: the real clock, unless a test moves it.
  const std::string clock_offset_file = absl::GetFlag(FLAGS_testing_clock_offset_file);
  ms::OffsetFileClock offset_clock(clock, fs, clock_offset_file);
  medvault::Clock* policy_clock = clock;
  if (!clock_offset_file.empty()) {
    MV_LOG(WARNING) << "--testing_clock_offset_file set: the share and retention clock follows a "
                       "test's file; never do this in production";
    policy_clock = &offset_clock;
  }
  ms::Catalog catalog(kv->get(), &writer);
  ms::ShareBook shares(kv->get(), &writer, policy_clock, &catalog);
  ms::ChunkServerRegistry registry(
      kv->get(), clock,
      ms::RegistryOptions{down_after_ms * 1000, absl::GetFlag(FLAGS_min_free_bytes)},
      std::random_device()(), &writer);
  absl::Status loaded = registry.Load();
  if (!loaded.ok()) Die(loaded.ToString());
  ms::GrpcChunkServerClient chunk_client(*security);
  ms::GarbageCollector gc(&catalog, &registry, &chunk_client, clock);
  const int64_t retention_interval_s = absl::GetFlag(FLAGS_retention_interval_s);
  if (retention_interval_s < 0) Die("--retention_interval_s must not be negative");
  std::unique_ptr<ms::GrpcKeyShredder> key_shredder;
  std::unique_ptr<ms::RetentionEnforcer> retention;
  if (!absl::GetFlag(FLAGS_keyservice).empty()) {
    absl::StatusOr<std::vector<std::string>> key_addresses =
        medvault::ParseAddressList(absl::GetFlag(FLAGS_keyservice));
    if (!key_addresses.ok()) Die(absl::StrCat("--keyservice: ", key_addresses.status().message()));
    key_shredder = std::make_unique<ms::GrpcKeyShredder>(*key_addresses, *security);
    medvault::raft::Replica* group = replica->get();
    retention = std::make_unique<ms::RetentionEnforcer>(
        &catalog, key_shredder.get(), policy_clock, [group] { return group->node()->IsLeader(); });
  } else {
    MV_LOG(WARNING) << "no --keyservice: retention rules are kept but no study is deleted by them";
  }

  // Declared before the runner so they outlive it; created once the runner's registry exists.
  std::unique_ptr<ms::MetaMetrics> metrics;
  std::unique_ptr<ms::MetaServiceImpl> service;
  std::unique_ptr<medvault::Authorizer> authz;
  metrics = std::make_unique<ms::MetaMetrics>(runner.registry());
  ms::RepairOptions repair_options;
  repair_options.replicas = absl::GetFlag(FLAGS_replicas);
  repair_options.max_bytes_per_second = absl::GetFlag(FLAGS_repair_bytes_per_second);
  repair_options.parallelism = absl::GetFlag(FLAGS_repair_parallelism);
  ms::MetaMetrics* m = metrics.get();
  catalog.set_on_commit_group(
      [m](size_t size) { m->commit_group_size.Observe(static_cast<double>(size)); });
  ms::Repairer repairer(&catalog, &registry, &chunk_client, clock, repair_options,
                        [m](uint64_t queue_length, uint64_t bytes, bool census) {
                          if (bytes > 0) {
                            m->repair_bytes.Increment(static_cast<double>(bytes));
                            return;
                          }
                          m->repair_queue_length.Set(static_cast<double>(queue_length));
                          if (census)
                            m->chunks_under_replicated.Set(static_cast<double>(queue_length));
                        });
  authz = std::make_unique<medvault::Authorizer>("metaserver", ms::MetaServicePolicy(),
                                                 security->is_tls(), runner.registry());
  service = std::make_unique<ms::MetaServiceImpl>(&catalog, &registry, &gc, &repairer, clock,
                                                  metrics.get(), orphan_grace_s, min_orphan_grace_s,
                                                  (*replica)->writer(), authz.get());
  service->set_chunk_client(&chunk_client);
  service->set_share_book(&shares);
  runner.AddService(service.get());
  runner.AddService((*replica)->service());
  metrics->RefreshServers(registry);
  metrics->RefreshTombstones(catalog);

  // Gauges follow server liveness within a second of a server going silent.
  medvault::PeriodicTask gauges(absl::Seconds(1), [&] { metrics->RefreshServers(registry); });
  medvault::PeriodicTask gc_task(absl::Seconds(gc_interval_s), [&] {
    if (!(*replica)->node()->IsLeader()) return;  // the leader collects for the group
    absl::StatusOr<ms::GcStats> stats = gc.RunOnce(orphan_grace_s);
    if (stats.ok()) {
      metrics->RecordGc(*stats);
    } else {
      MV_LOG(WARNING) << "garbage collection failed: " << stats.status();
    }
  });

  medvault::PeriodicTask retention_task(
      absl::Seconds(std::max<int64_t>(retention_interval_s, 1)), [&] {
        absl::StatusOr<ms::RetentionStats> stats = retention->RunOnce();
        if (stats.ok()) {
          metrics->RecordRetention(*stats);
        } else {
          MV_LOG(WARNING) << "retention pass failed: " << stats.status();
        }
      });

  // Repair runs on the leader once it has led for a down interval (and a heartbeat): before that
  // its in-memory liveness view would call every server down.
  ms::SettledLeadership settled(down_after_ms * 1000 + 2'000'000);
  medvault::PeriodicTask repair_task(
      absl::Milliseconds(std::max<int64_t>(repair_interval_ms, 1)), [&] {
        if (!settled.Settled((*replica)->node()->IsLeader(), (*replica)->writer()->Term(),
                             clock->NowMicros()))
          return;
        absl::StatusOr<ms::RepairStats> stats = repairer.RunOnce();
        if (stats.ok()) {
          metrics->RecordRepair(*stats);
        } else {
          MV_LOG(WARNING) << "repair pass failed: " << stats.status();
        }
      });

  medvault::PeriodicTask purge_task(
      absl::Milliseconds(std::max<int64_t>(absl::GetFlag(FLAGS_purge_interval_ms), 1)), [&] {
        // Every deletion applied up to `applied` has been noted (notes are taken while applying).
        const uint64_t applied = (*replica)->machine()->Applied().index();
        const bool work = purger.pending() > 0;
        absl::Status purged = purger.ShredPending();
        metrics->RecordPurge(purger, purged, applied);
        if (!purged.ok()) {
          MV_LOG(WARNING) << "purging deleted index entries failed (will retry): " << purged;
        } else if (work) {
          MV_LOG(INFO) << "purge complete through log index " << applied << ": "
                       << purger.shredded() << " deleted index entries purged so far";
        }
      });

  // Studies an older metaserver committed lack the accession index entry and summary fields the
  // current one writes (catalog_backfill.cc): the leader writes them through the group, once per
  // process (idempotent: another leader's run finds nothing left to write).
  std::atomic<bool> backfilled{false};
  medvault::PeriodicTask backfill_task(absl::Seconds(1), [&] {
    if (backfilled.load() || !(*replica)->node()->IsLeader()) return;
    absl::StatusOr<ms::BackfillPage> done = catalog.BackfillAllStudies();
    if (!done.ok()) {
      MV_LOG(WARNING) << "study index backfill failed (will retry): " << done.status();
      return;
    }
    backfilled.store(true);
    MV_LOG(INFO) << "study index backfill: " << done->scanned << " studies examined, "
                 << done->studies_fixed << " completed (" << done->accession_entries
                 << " accession entries, " << done->summaries << " summaries)";
  });

  absl::Status started = runner.Start();
  if (!started.ok()) Die(started.ToString());
  absl::Status raft_started = (*replica)->Start();
  if (!raft_started.ok()) Die(absl::StrCat("raft: ", raft_started.ToString()));
  gauges.Start();
  purge_task.Start();
  backfill_task.Start();
  if (gc_interval_s > 0) gc_task.Start();
  if (repair_interval_ms > 0) repair_task.Start();
  if (retention != nullptr && retention_interval_s > 0) retention_task.Start();
  MV_LOG(INFO) << "serving; chunk servers down after " << down_after_ms << " ms, gc every "
               << gc_interval_s << " s with orphan grace " << orphan_grace_s << " s, repair every "
               << repair_interval_ms << " ms to " << repair_options.replicas << " replicas";

  // On SIGTERM a leader hands off before the server stops carrying the group's messages.
  runner.set_on_terminate([&] { (*replica)->HandOffLeadership(absl::Seconds(5)); });
  runner.Wait();
  // In-flight calls have drained; stop the background passes before anything they use goes away.
  retention_task.Stop();
  repair_task.Stop();
  backfill_task.Stop();
  purge_task.Stop();
  gc_task.Stop();
  gauges.Stop();
  (*replica)->Stop();
  MV_LOG(INFO) << "stopped";
  return 0;
}
