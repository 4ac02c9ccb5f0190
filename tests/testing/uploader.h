// Stores distinct DICOM instances made from pydicom's CT_small.dcm through the frontend's public
// API and remembers the acknowledged ones (SOP Instance UID -> exact bytes), for tests that must
// later read every acknowledged instance back: one put at a time, or background load threads.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"

namespace medvault::testing {

class Uploader {
 public:
  // With an empty `study_uid` every instance keeps the template's study and series; otherwise they
  // all go to that study (and one series derived from it), so a test can delete them apart.
  explicit Uploader(const ExternalCluster& cluster, std::string study_uid = "");
  ~Uploader() { Stop(); }

  // One put; OK and remembered when acknowledged. Thread-safe.
  absl::Status PutOne();

  // Puts continuously on `threads` threads until Stop().
  void StartLoad(int threads);
  void Stop();

  size_t acked_count();
  // Polls until `n` puts were acknowledged; false on timeout.
  bool WaitForAcks(size_t n, std::chrono::seconds timeout);
  std::map<std::string, std::string> acked();
  // The study of the last acknowledged put.
  std::string study();
  std::vector<absl::Status> failures();

 private:
  const ExternalCluster& cluster_;
  DicomInstanceFactory factory_;
  const std::string study_uid_;
  const std::string run_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::map<std::string, std::string> acked_;
  std::vector<absl::Status> failures_;
  std::string study_;
};

}  // namespace medvault::testing
