// keyservice: holds one data key per stored object, wrapped under a master key (KEK) read from a
// protected file, and serves medvault.v1.KeyService to the frontend.
#include <sys/prctl.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/env.h"
#include "common/kv.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/tls_flags.h"
#include "common/tls.h"
#include "keyservice/core/kek.h"
#include "keyservice/core/key_store.h"
#include "keyservice/service/key_service.h"
#include "raft/replica.h"
#include "raft/replica_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC address host:port (port 0 picks a free one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "Prometheus /metrics address host:port; empty disables");
ABSL_FLAG(std::string, data_dir, "", "Directory of the key database (RocksDB at <data_dir>/db)");
ABSL_FLAG(std::string, kek_file, "",
          "Master key file: 32 raw bytes or 64 hex characters, mode 0600 or 0400");
ABSL_FLAG(uint32_t, kek_version, 1, "Version number of the master key in --kek_file");

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
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) Die("prctl(PR_SET_DUMPABLE, 0) failed");

  medvault::SetLogTag("keyservice");
  medvault::InstallTerminationHandlers();
  absl::ParseCommandLine(argc, argv);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string kek_file = absl::GetFlag(FLAGS_kek_file);
  const uint32_t kek_version = absl::GetFlag(FLAGS_kek_version);
  if (data_dir.empty()) Die("--data_dir is required");
  if (kek_file.empty()) Die("--kek_file is required");

  medvault::keyservice::KekRing keks;
  {
    absl::StatusOr<medvault::SecretBytes> kek = medvault::keyservice::LoadKekFile(kek_file);
    if (!kek.ok()) Die(kek.status().ToString());
    absl::Status added = keks.Add(kek_version, std::move(*kek));
    if (!added.ok()) Die(added.ToString());
  }

  medvault::Filesystem* fs = medvault::DefaultFilesystem();
  absl::StatusOr<medvault::TransportSecurity> security = medvault::TransportSecurityFromFlags(fs);
  if (!security.ok()) Die(security.status().ToString());
  absl::Status dirs = fs->CreateDirs(data_dir);
  if (!dirs.ok()) Die(absl::StrCat("creating --data_dir: ", dirs.ToString()));
  std::vector<std::string> families = {medvault::keyservice::kKeysColumnFamily};
  for (const std::string& cf : medvault::raft::RaftColumnFamilies()) families.push_back(cf);
  absl::StatusOr<std::unique_ptr<medvault::KvStore>> kv = medvault::KvStore::Open(data_dir + "/db", families);
  if (!kv.ok()) Die(kv.status().ToString());

  medvault::ServiceRunner runner(medvault::ServerOptions{
      "keyservice", absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_metrics_listen), *security});
  // Wrapped keys are replicated to every key service replica (all hold the same KEK files).
  const medvault::raft::ReplicaOptions replica_options = medvault::raft::ReplicaOptionsFromFlags(
      "keyservice", absl::GetFlag(FLAGS_listen), *security, medvault::kKeyServicePeer);
  absl::StatusOr<std::unique_ptr<medvault::raft::Replica>> replica = medvault::raft::Replica::Open(
      kv->get(), {medvault::keyservice::kKeysColumnFamily}, replica_options, runner.registry());
  if (!replica.ok()) Die(absl::StrCat("raft: ", replica.status().ToString()));
  medvault::raft::ReplicatedKvWriter writer((*replica)->writer());
  medvault::keyservice::KeyStore store(kv->get(), &keks, medvault::RealClock(), &writer);
  std::unique_ptr<medvault::keyservice::KeyServiceImpl> service;
  service = std::make_unique<medvault::keyservice::KeyServiceImpl>(&store, runner.registry());
  runner.AddService(service.get());
  runner.AddService((*replica)->service());
  absl::Status started = runner.Start();
  if (!started.ok()) Die(started.ToString());
  absl::Status raft_started = (*replica)->Start();
  if (!raft_started.ok()) Die(absl::StrCat("raft: ", raft_started.ToString()));
  MV_LOG(INFO) << "serving with KEK version " << kek_version;
  runner.Wait();
  (*replica)->Stop();
  // The runner has drained in-flight calls; the service, store, replica, runner, database and
  // finally the KEK ring (wiping the KEK) are destroyed in reverse order of construction.
  return 0;
}
