// A medvault cluster of real processes on loopback for integration tests, in the spirit of Kudu's
// ExternalMiniCluster: the built binaries, each on an ephemeral port (read back from its
// "listening" line, so no port races), state under one temporary directory.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/testing/temp_dir.h"
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

  // Starts keyservice, metaserver, chunkservers (waits until all registered with the metaserver),
  // then the frontend.
  absl::Status Start();
  // Stops every process with SIGTERM and checks each exited 0 (graceful shutdown).
  absl::Status Stop();

  const std::string& frontend() const { return frontend_addr_; }
  const std::string& frontend_metrics() const { return frontend_metrics_; }
  const std::string& metaserver() const { return meta_addr_; }
  const std::string& keyservice() const { return key_addr_; }
  std::string chunkserver_dir(int i) const;
  const std::string& root() const { return dir_.path(); }
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
};

}  // namespace medvault::testing
