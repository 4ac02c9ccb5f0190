// keyservice: holds one data key per stored object, wrapped under versioned master keys (KEKs) read
// from protected files, keeps the audit log, and serves medvault.v1.KeyService to the frontend.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/env.h"
#include "common/key_hygiene.h"
#include "common/kv.h"
#include "common/log.h"
#include "common/periodic_task.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "common/tls_flags.h"
#include "keyservice/core/audit_chain.h"
#include "keyservice/core/audit_signer.h"
#include "keyservice/core/audit_verify.h"
#include "keyservice/core/kek.h"
#include "keyservice/core/key_store.h"
#include "keyservice/core/shred_log.h"
#include "keyservice/core/shredder.h"
#include "keyservice/service/audit_chain_rewriter.h"
#include "keyservice/service/key_maintenance.h"
#include "keyservice/service/key_service.h"
#include "raft/replica.h"
#include "raft/replica_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC address host:port (port 0 picks a free one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "Prometheus /metrics address host:port; empty disables");
ABSL_FLAG(std::string, data_dir, "", "Directory of the key database (RocksDB at <data_dir>/db)");
ABSL_FLAG(std::string, kek_file, "",
          "One master key file: 32 raw bytes or 64 hex characters, mode 0600 or 0400");
ABSL_FLAG(uint32_t, kek_version, 1, "Version number of the master key in --kek_file");
ABSL_FLAG(std::string, kek_dir, "",
          "Directory of master keys, one file per version named <n> or kek-<n> (e.g. a mounted "
          "Kubernetes Secret); may be combined with --kek_file");
ABSL_FLAG(int64_t, rewrap_interval_ms, 30000,
          "How often the leader checks for keys to rewrap under the active KEK (at once after a "
          "rotation)");
ABSL_FLAG(uint32_t, rewrap_batch, 256, "Keys rewrapped per replicated write");
ABSL_FLAG(int64_t, shred_interval_ms, 1000,
          "Destroyed keys are pushed out of the database files within about this long");
ABSL_FLAG(std::string, audit_signing_key, "",
          "PEM Ed25519 private key (mode 0600 or 0400) that signs the audit chain's head; the same "
          "key on every replica. Empty: heads are not signed (verify checks the chain only)");
ABSL_FLAG(std::string, audit_verify_keys, "",
          "Comma-separated PEM files of earlier audit signing keys (public or private), so heads "
          "they signed still verify after a rotation");
ABSL_FLAG(int64_t, audit_sign_interval_ms, 60000,
          "How often the leader signs the audit chain's head when it moved");

ABSL_FLAG(std::string, shred_log, "",
          "File recording every data key this replica destroys (object ids only), kept OUTSIDE "
          "--data_dir and outside backups, on a volume of its own: a restore from a backup "
          "destroys again the keys it lists (docs/security.md, \"Backups and crypto-shredding\")");
ABSL_FLAG(std::string, restore_shred_logs, "",
          "With --restore_backup: comma-separated shred logs (every old replica's --shred_log you "
          "have) whose keys the restored state loses before it serves. Default: --shred_log");

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "keyservice: %s\n", message.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  // This process holds the KEK and unwrapped DEKs in memory. Marking it non-dumpable keeps that
  // memory out of core dumps and stops other processes of the same user from ptrace-attaching or
  // reading /proc/<pid>/mem. Done first, before any key is loaded.
  if (absl::Status s = medvault::ProtectKeyMaterialInThisProcess(); !s.ok()) Die(s.ToString());

  medvault::SetLogTag("keyservice");
  medvault::InstallTerminationHandlers();
  absl::ParseCommandLine(argc, argv);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string kek_file = absl::GetFlag(FLAGS_kek_file);
  const std::string kek_dir = absl::GetFlag(FLAGS_kek_dir);
  if (data_dir.empty()) Die("--data_dir is required");
  if (kek_file.empty() && kek_dir.empty()) Die("--kek_file or --kek_dir is required");

  namespace ks = medvault::keyservice;
  ks::KekRing keks;
  if (!kek_file.empty()) {
    absl::StatusOr<medvault::SecretBytes> kek = ks::LoadKekFile(kek_file);
    if (!kek.ok()) Die(kek.status().ToString());
    absl::Status added = keks.Add(absl::GetFlag(FLAGS_kek_version), std::move(*kek));
    if (!added.ok()) Die(added.ToString());
  }
  if (!kek_dir.empty()) {
    absl::StatusOr<std::vector<uint32_t>> loaded = ks::LoadKekDir(kek_dir, &keks);
    if (!loaded.ok()) Die(loaded.status().ToString());
  }

  medvault::Filesystem* fs = medvault::DefaultFilesystem();
  absl::StatusOr<medvault::TransportSecurity> security = medvault::TransportSecurityFromFlags(fs);
  if (!security.ok()) Die(security.status().ToString());
  absl::Status dirs = fs->CreateDirs(data_dir);
  if (!dirs.ok()) Die(absl::StrCat("creating --data_dir: ", dirs.ToString()));
  std::vector<std::string> families = ks::KeyStoreColumnFamilies();
  for (const std::string& cf : medvault::raft::RaftColumnFamilies()) families.push_back(cf);
  absl::StatusOr<std::unique_ptr<medvault::KvStore>> kv =
      medvault::KvStore::Open(data_dir + "/db", families);
  if (!kv.ok()) Die(kv.status().ToString());

  medvault::ServiceRunner runner(medvault::ServerOptions{
      "keyservice", absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_metrics_listen), *security,
      medvault::HealthListenFromFlags()});
  // Wrapped keys, the KEK state and the audit log are replicated to every key service replica
  // (all hold the same KEK files).
  medvault::raft::ReplicaOptions replica_options = medvault::raft::ReplicaOptionsFromFlags(
      "keyservice", absl::GetFlag(FLAGS_listen), *security, medvault::kKeyServicePeer);
  std::string restore_logs = absl::GetFlag(FLAGS_restore_shred_logs);
  if (restore_logs.empty()) restore_logs = absl::GetFlag(FLAGS_shred_log);
  auto left_out = std::make_shared<uint64_t>(0);
  auto log_count = std::make_shared<size_t>(0);
  replica_options.restore_filter = [fs, restore_logs, left_out, log_count](int64_t taken_micros)
      -> absl::StatusOr<std::function<bool(const medvault::v1::RaftKvWrite&)>> {
    // Read before this replica's own shred log is opened (which would create a missing one).
    absl::StatusOr<std::vector<medvault::ShredLogContents>> logs =
        medvault::ReadShredLogs(fs, restore_logs);
    if (!logs.ok()) return logs.status();
    // Refuses unless a log covers the time since the backup (ApplyShredLogs' rule).
    absl::StatusOr<std::set<std::string>> destroyed =
        medvault::DestroyedSinceBackup(*logs, taken_micros);
    if (!destroyed.ok()) return destroyed.status();
    *log_count = logs->size();
    *left_out = 0;
    return [destroyed = std::make_shared<const std::set<std::string>>(*std::move(destroyed)),
            left_out](const medvault::v1::RaftKvWrite& w) {
      const bool drop = w.cf() == ks::kKeysColumnFamily && destroyed->count(w.key()) > 0;
      *left_out += drop ? 1 : 0;
      return drop;
    };
  };
  replica_options.after_restore = [left_out, log_count](int64_t) {
    MV_LOG(INFO) << "restore: " << *left_out << " keys destroyed after the backup was taken ("
                 << *log_count << " shred logs) are left out";
    return absl::OkStatus();
  };
  absl::StatusOr<std::unique_ptr<medvault::raft::Replica>> replica = medvault::raft::Replica::Open(
      kv->get(), ks::KeyStoreColumnFamilies(), replica_options, runner.registry());
  if (!replica.ok()) Die(absl::StrCat("raft: ", replica.status().ToString()));
  medvault::raft::RaftNode* node = (*replica)->node();

  // Every replica chains audit records as it applies them, in log order (audit_chain.h).
  ks::AuditChain audit_chain(kv->get());
  if (absl::Status s = audit_chain.Load(); !s.ok()) Die(s.ToString());
  ks::AuditChainRewriter audit_rewriter(&audit_chain);
  (*replica)->machine()->set_rewriter(&audit_rewriter);
  std::unique_ptr<ks::AuditSigner> audit_signer;
  ks::AuditTrustedKeys audit_keys;
  if (const std::string path = absl::GetFlag(FLAGS_audit_signing_key); !path.empty()) {
    absl::StatusOr<std::unique_ptr<ks::AuditSigner>> signer =
        ks::AuditSigner::FromPemFile(fs, path);
    if (!signer.ok()) Die(absl::StrCat("--audit_signing_key: ", signer.status().ToString()));
    audit_signer = *std::move(signer);
    audit_keys.Add(audit_signer->public_key());
  }
  for (absl::string_view path :
       absl::StrSplit(absl::GetFlag(FLAGS_audit_verify_keys), ',', absl::SkipEmpty())) {
    absl::Status added = audit_keys.AddPemFile(fs, std::string(path));
    if (!added.ok()) Die(absl::StrCat("--audit_verify_keys: ", added.ToString()));
  }

  // Every replica shreds the keys whose destruction it applies (and everything after a snapshot
  // replaced its state).
  ks::Shredder shredder(
      kv->get(), [node] { return node->CompactLog(); }, medvault::raft::RaftColumnFamilies());
  std::unique_ptr<ks::ShredLog> shred_log;
  if (const std::string path = absl::GetFlag(FLAGS_shred_log); !path.empty()) {
    absl::StatusOr<std::unique_ptr<ks::ShredLog>> opened =
        ks::ShredLog::Open(path, medvault::RealClock());
    if (!opened.ok()) Die(absl::StrCat("--shred_log: ", opened.status().ToString()));
    shred_log = *std::move(opened);
  }
  ks::ShredLog* shreds = shred_log.get();
  (*replica)->machine()->set_on_delete(
      [&shredder, shreds](const std::string& cf, const std::string& key) {
        if (cf != ks::kKeysColumnFamily) return;
        shredder.Destroyed(key);
        if (shreds == nullptr) return;
        if (absl::Status s = shreds->Destroyed(key); !s.ok())
          MV_LOG(ERROR) << "recording a destroyed key in the shred log: " << s;
      });
  (*replica)->machine()->set_on_restore([&shredder, shreds] {
    shredder.EverythingChanged();
    if (shreds == nullptr) return;
    if (absl::Status s = shreds->Gap(); !s.ok())
      MV_LOG(ERROR) << "recording a snapshot in the shred log: " << s;
  });

  medvault::raft::ReplicatedKvWriter writer((*replica)->writer());
  ks::KeyStore store(kv->get(), &keks, medvault::RealClock(), &writer);
  ks::MaintenanceOptions maintenance_options;
  maintenance_options.rewrap_interval =
      absl::Milliseconds(std::max<int64_t>(1, absl::GetFlag(FLAGS_rewrap_interval_ms)));
  maintenance_options.rewrap_batch = std::max<uint32_t>(1, absl::GetFlag(FLAGS_rewrap_batch));
  maintenance_options.shred_interval =
      absl::Milliseconds(std::max<int64_t>(1, absl::GetFlag(FLAGS_shred_interval_ms)));
  ks::KeyMaintenance maintenance(
      &store, &shredder, [node] { return node->IsLeader(); }, maintenance_options,
      runner.registry());
  ks::KeyServiceImpl service(&store, runner.registry(), security->is_tls(),
                             [&maintenance] { maintenance.KickRewrap(); });
  ks::AuditChecker audit_checker(kv->get(), &writer, medvault::RealClock(), audit_signer.get(),
                                 std::move(audit_keys));
  service.set_audit_checker(&audit_checker);
  medvault::PeriodicTask audit_signing(
      absl::Milliseconds(std::max<int64_t>(1, absl::GetFlag(FLAGS_audit_sign_interval_ms))),
      [&audit_checker, node] {
        if (!node->IsLeader()) return;
        absl::StatusOr<uint64_t> signed_position = audit_checker.SignHead();
        if (!signed_position.ok() && !absl::IsUnavailable(signed_position.status())) {
          MV_LOG(WARNING) << "signing the audit head: " << signed_position.status();
        }
      });
  runner.AddService(&service);
  runner.AddService((*replica)->service());
  absl::Status started = runner.Start();
  if (!started.ok()) Die(started.ToString());
  absl::Status raft_started = (*replica)->Start();
  if (!raft_started.ok()) Die(absl::StrCat("raft: ", raft_started.ToString()));
  maintenance.Start();
  if (audit_signer) audit_signing.Start();
  std::string versions;
  for (uint32_t v : keks.versions()) absl::StrAppend(&versions, versions.empty() ? "" : ",", v);
  MV_LOG(INFO) << "serving with KEK versions " << versions
               << (security->is_tls() ? "; callers authorised by certificate"
                                      : "; PLAINTEXT: no caller is authenticated or authorised");
  // On SIGTERM a leader hands off before the server stops carrying the group's messages.
  runner.set_on_terminate([&] { (*replica)->HandOffLeadership(absl::Seconds(5)); });
  runner.Wait();
  audit_signing.Stop();
  maintenance.Stop();
  (*replica)->Stop();
  // The runner has drained in-flight calls; the service, store, replica, runner, database and
  // finally the KEK ring (wiping the KEK) are destroyed in reverse order of construction.
  return 0;
}
