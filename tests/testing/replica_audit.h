// Checks the end state the durability issue demands, from outside the cluster: every acknowledged
// instance reads back bit-exact through the frontend, and every chunk of its manifest is listed on
// exactly `replicas` distinct chunk servers, each of which holds it with the manifest's length and
// CRC32C (read as the metaserver would, with its certificate: only the metaserver and the frontend
// may call chunk servers).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/external_cluster.h"

namespace medvault::testing {

struct AuditResult {
  size_t instances = 0;
  size_t chunks = 0;
  size_t replicas = 0;
  // Replicas per server id, as the manifests list them.
  std::map<std::string, size_t> per_server;
  // Every chunk id the acknowledged instances' manifests name.
  std::set<std::string> chunk_ids;
};

// `acked`: SOP Instance UID -> the exact bytes stored. The first failure, described without PHI.
absl::StatusOr<AuditResult> AuditReplicas(const ExternalCluster& cluster,
                                          const std::map<std::string, std::string>& acked,
                                          int replicas);

// Polls AuditReplicas until it succeeds or `timeout` passes; the last failure on timeout.
absl::StatusOr<AuditResult> WaitForFullReplication(const ExternalCluster& cluster,
                                                   const std::map<std::string, std::string>& acked,
                                                   int replicas, std::chrono::seconds timeout);

// Polls a gauge of process `name` until pred(value) holds; the last value or error on timeout.
absl::StatusOr<double> WaitForMetric(const ExternalCluster& cluster, const std::string& name,
                                     const std::string& metric,
                                     const std::function<bool(double)>& pred,
                                     std::chrono::seconds timeout);

}  // namespace medvault::testing
