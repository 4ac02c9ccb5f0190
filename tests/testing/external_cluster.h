// A medvault cluster of real processes on loopback for integration tests, in the spirit of Kudu's
// ExternalMiniCluster: the built binaries, each on an ephemeral port (read back from its
// "listening" line, so no port races), state under one temporary directory. Every service runs
// with mutual TLS, with certificates scripts/dev-certs makes under root()/tls, as
// scripts/cluster up does.
//
// With ClusterOptions::replicas > 1 the metaserver and the key service each run as a Raft group of
// that many replicas, which a test can kill -9, wipe and restart one at a time (Kudu's
// ExternalMiniCluster::Kill/Restart); LeaderOf() finds the current leader from their metrics.
// Replicas must know each other's addresses before they start, so their ports are picked free
// beforehand (a small race with other processes on the machine, reported as a failed start).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/testing/temp_dir.h"
#include "common/tls.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

// `n` distinct free loopback ports, picked at random below the kernel's ephemeral range (so no
// outgoing connection takes one as its source port before the server binds it), each checked by
// binding it, all released together.
absl::StatusOr<std::vector<int>> PickFreePorts(int n);

struct ClusterOptions {
  int chunkservers = 3;
  // Replicas of each Raft group (metaserver, keyservice). 1: one process each, named "metaserver"
  // and "keyservice", a group of one (no --raft_* flags). More: "metaserver-1".."metaserver-N" and
  // "keyservice-1".."keyservice-N" on ports picked before the start, founded with --raft_bootstrap.
  int replicas = 1;
  uint32_t chunk_size_bytes = 1 << 20;
  // Extra flags per service, appended to its command line (every replica's, for the groups).
  std::vector<std::string> metaserver_flags;
  std::vector<std::string> keyservice_flags;
  // Extra flags of key service replica r only (1..replicas; with one replica, r = 1).
  std::map<int, std::vector<std::string>> keyservice_flags_of;
  std::vector<std::string> frontend_flags;
  // Extra flags of every chunk server, and of chunk server i only.
  std::vector<std::string> chunkserver_flags;
  std::map<int, std::vector<std::string>> chunkserver_flags_of;
  // Certificates made at Start() for chunk servers a test adds later (AddChunkserver).
  int spare_chunkservers = 0;
};

// Not thread-safe: one test thread drives it (load threads only use the addresses it returned).
class ExternalCluster {
 public:
  explicit ExternalCluster(ClusterOptions options = {});
  ~ExternalCluster();  // stops every process (SIGKILL)

  // Makes the certificates (a CA; keyservice, metaserver, chunkserver-<i>, frontend and client),
  // then starts the key service and metaserver replicas, chunkservers (waits until all registered
  // with the metaserver), then the frontend.
  absl::Status Start();
  // Starts one more chunk server ("chunkserver-<N>", failure domain rack-<N>, the same flags as
  // the others) and waits until the metaserver has it up; returns its name. FAILED_PRECONDITION
  // when no spare certificate is left (ClusterOptions::spare_chunkservers).
  absl::StatusOr<std::string> AddChunkserver();
  // Stops every running process with SIGTERM and checks each exited 0 (graceful shutdown).
  absl::Status Stop();

  const std::string& frontend() const { return frontend_addr_; }
  const std::string& frontend_metrics() const { return frontend_metrics_; }
  // The frontend's DIMSE door (AE title MEDVAULT, any calling AE from loopback): its port on
  // 127.0.0.1, as of the frontend's latest start. `tls`: its DICOM TLS port (started with
  // --dicom_tls_port in frontend_flags), 0 when it has none.
  int frontend_dicom_port(bool tls = false) const;
  // The metaserver's address; with replicas > 1 every member's, comma-separated (as the frontend's
  // --metaserver takes them). Likewise keyservice().
  const std::string& metaserver() const { return meta_addr_; }
  const std::string& keyservice() const { return key_addr_; }
  const std::vector<std::string>& chunkservers() const { return chunk_addrs_; }
  std::string chunkserver_dir(int i) const;
  const std::string& root() const { return dir_.path(); }
  // The directory of the CA and every certificate (NAME.crt, NAME.key, ca.crt).
  std::string tls_dir() const { return dir_.path() + "/tls"; }
  // The key service's --kek_dir (version 1 is written at Start()).
  std::string kek_dir() const { return dir_.path() + "/keks"; }
  // Writes a fresh random KEK as `version` into kek_dir() (mode 0600); key services load it when
  // they next start.
  absl::Status WriteKek(uint32_t version) const;

  // Transport security with the certificate `name` in tls_dir() ("client", "frontend", ...).
  // REQUIRES: Start() succeeded (the certificates exist).
  TransportSecurity SecurityAs(const std::string& name) const;
  // A channel to `address` requiring the server to be `peer` (kFrontendPeer, ...): to the frontend
  // as the CLI's "client" certificate (all scopes), to any other service as the frontend (the
  // identity allowed to inspect them). The cluster also issues "client-readonly" (read scope
  // only) and "client-writer" (write scope only). REQUIRES: Start() succeeded.
  std::shared_ptr<grpc::Channel> Channel(const std::string& address, absl::string_view peer) const;
  // argv of the medvault CLI pointed at this cluster's frontend with the client certificate;
  // append the verb and its arguments.
  std::vector<std::string> Cli() const;
  // Every log file the services wrote (stderr of each process; a restart appends to it).
  std::vector<std::string> log_files() const;
  // Path of a built binary ("frontend", "medvault", ...).
  static std::string Binary(const std::string& name);

  // --- Processes by name, for fault injection ("metaserver-2", "chunkserver-0", ...) ---

  // The processes of "metaserver" or "keyservice": {"metaserver"} with one replica, else
  // "metaserver-1".."metaserver-N".
  std::vector<std::string> Replicas(absl::string_view service) const;
  bool IsRunning(const std::string& name) const;
  // gRPC and metrics addresses of a process (its latest start); "" for an unknown name.
  std::string AddressOf(const std::string& name) const;
  std::string MetricsOf(const std::string& name) const;
  // The plaintext health port of a process started with --health_listen (its latest start); "" if
  // none.
  std::string HealthOf(const std::string& name) const;
  std::string DataDirOf(const std::string& name) const;
  std::string LogFileOf(const std::string& name) const;

  // Sends `sig` to a running process without waiting (SIGSTOP then SIGCONT: a server that is
  // slow, then well again). FAILED_PRECONDITION when it is not running.
  absl::Status Signal(const std::string& name, int sig);
  // SIGKILL (kill -9) and reap. FAILED_PRECONDITION when it is not running.
  absl::Status Kill(const std::string& name);
  // Starts a killed process again with the same flags, minus --raft_bootstrap (a replica that lost
  // its state must rejoin, not found a new group); waits for its listening line. Replicas keep
  // their gRPC port; processes first started on port 0 (frontend, chunkservers) and every metrics
  // endpoint get a new one (AddressOf, MetricsOf).
  absl::Status Restart(const std::string& name);
  // Restart with `extra_flags` appended to its command line, for this and every later start (a
  // new KEK directory, say).
  absl::Status Restart(const std::string& name, const std::vector<std::string>& extra_flags);
  // SIGTERM (a planned stop, as Kubernetes sends before deleting a pod) and reap. INTERNAL when it
  // does not exit 0; FAILED_PRECONDITION when it is not running.
  absl::Status StopGracefully(const std::string& name);
  // Deletes a killed process's data directory (a lost disk). FAILED_PRECONDITION while running.
  absl::Status Wipe(const std::string& name);
  // Starts one more frontend, `name`, with the first one's flags on a port of its own (a
  // Deployment's surge pod in a rolling update); returns its address. Stop it, restart it, ask its
  // address by `name` as any other process.
  absl::StatusOr<std::string> AddFrontend(const std::string& name);

  // A gauge from the process's /metrics ("medvault_metaserver_raft_term", ...). UNAVAILABLE when
  // it is not running or serves nothing, NOT_FOUND when it has no such series.
  absl::StatusOr<double> Metric(const std::string& name, absl::string_view metric) const;
  // The replica of "metaserver" or "keyservice" whose medvault_<service>_raft_is_leader is 1,
  // once exactly one running replica says so (elections in progress are waited out).
  // DEADLINE_EXCEEDED when that does not happen within `timeout`.
  absl::StatusOr<std::string> LeaderOf(
      absl::string_view service,
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  struct Proc {
    std::string name;
    std::vector<std::string> argv;  // as first started
    std::string data_dir;           // empty when it keeps no state
    std::unique_ptr<Subprocess> process;
    bool running = false;
    std::string address;
    std::string metrics;
    std::string dicom;      // the DIMSE door's host:port, for a frontend
    std::string dicom_tls;  // its DICOM TLS port's (--dicom_tls_port), if any
    std::string health;     // the plaintext health port's host:port (--health_listen)
  };
  // Starts `binary` as `name` presenting the certificate `cert`, on `listen`, with `flags`.
  absl::StatusOr<Proc*> Launch(const std::string& name, const std::string& cert,
                               const std::string& binary, const std::string& listen,
                               const std::string& data_dir, std::vector<std::string> flags);
  // Runs proc->argv (less `drop`) and reads its "listening" line into proc.
  absl::Status Spawn(Proc* proc, absl::string_view drop = "");
  // Starts every replica of "metaserver" or "keyservice"; returns the comma-separated addresses.
  absl::StatusOr<std::string> StartGroup(const std::string& service,
                                         const std::vector<std::string>& flags);
  absl::Status WaitForChunkservers(int n, std::chrono::seconds timeout);
  // Starts chunk server `i` (name, data directory, failure domain and flags derive from i).
  absl::StatusOr<Proc*> LaunchChunkserver(int i);
  Proc* Find(const std::string& name) const;

  ClusterOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<Proc>> procs_;
  std::string frontend_addr_, frontend_metrics_, meta_addr_, key_addr_;
  std::vector<std::string> frontend_flags_;  // every frontend's flags
  std::vector<std::string> chunk_addrs_;
};

}  // namespace medvault::testing
