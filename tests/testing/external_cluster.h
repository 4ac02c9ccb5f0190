// A medvault cluster of real processes on loopback for integration tests, in the spirit of Kudu's
// ExternalMiniCluster: the built binaries, each on an ephemeral port (read back from its
// "listening" line, so no port races), state under one temporary directory. Every service runs
// with mutual TLS, with certificates scripts/dev-certs makes under root()/tls, as
// scripts/cluster up does.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/testing/temp_dir.h"
#include "common/tls.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

struct ClusterOptions {
  int chunkservers = 3;
  uint32_t chunk_size_bytes = 1 << 20;
  // Extra flags per service, appended to its command line.
  std::vector<std::string> metaserver_flags;
  std::vector<std::string> frontend_flags;
};

class ExternalCluster {
 public:
  explicit ExternalCluster(ClusterOptions options = {});
  ~ExternalCluster();  // stops every process (SIGTERM, then SIGKILL)

  // Makes the certificates (a CA; keyservice, metaserver, chunkserver-<i>, frontend and client),
  // then starts keyservice, metaserver, chunkservers (waits until all registered with the
  // metaserver), then the frontend.
  absl::Status Start();
  // Stops every process with SIGTERM and checks each exited 0 (graceful shutdown).
  absl::Status Stop();

  const std::string& frontend() const { return frontend_addr_; }
  const std::string& frontend_metrics() const { return frontend_metrics_; }
  const std::string& metaserver() const { return meta_addr_; }
  const std::string& keyservice() const { return key_addr_; }
  const std::vector<std::string>& chunkservers() const { return chunk_addrs_; }
  std::string chunkserver_dir(int i) const;
  const std::string& root() const { return dir_.path(); }
  // The directory of the CA and every certificate (NAME.crt, NAME.key, ca.crt).
  std::string tls_dir() const { return dir_.path() + "/tls"; }

  // Transport security with the certificate `name` in tls_dir() ("client", "frontend", ...).
  // REQUIRES: Start() succeeded (the certificates exist).
  TransportSecurity SecurityAs(const std::string& name) const;
  // A channel to `address` as the CLI's "client" certificate, requiring the server to be `peer`
  // (kFrontendPeer, ...). REQUIRES: Start() succeeded.
  std::shared_ptr<grpc::Channel> Channel(const std::string& address, absl::string_view peer) const;
  // argv of the medvault CLI pointed at this cluster's frontend with the client certificate;
  // append the verb and its arguments.
  std::vector<std::string> Cli() const;
  // Every log file the services wrote (stderr of each process).
  std::vector<std::string> log_files() const;
  // Path of a built binary ("frontend", "medvault", ...).
  static std::string Binary(const std::string& name);

 private:
  struct Proc {
    std::string name;
    std::unique_ptr<Subprocess> process;
    std::string address;
    std::string metrics;
  };
  absl::StatusOr<Proc*> Launch(const std::string& name, const std::string& binary, std::vector<std::string> flags);
  absl::Status WaitForChunkservers(int n, std::chrono::seconds timeout);

  ClusterOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<Proc>> procs_;
  std::string frontend_addr_, frontend_metrics_, meta_addr_, key_addr_;
  std::vector<std::string> chunk_addrs_;
};

}  // namespace medvault::testing
