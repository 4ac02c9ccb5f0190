// The fixture the DIMSE door's tests share (tests/dimse_test.cc: echo, store, find;
// tests/dimse_get_test.cc: C-GET; both compiled into the one dimse_test binary): a real cluster
// per test with the DIMSE door on, named calling AE titles with their scopes, and DCMTK's storescp
// as a reference receiver.
#pragma once

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

// The data sets of the Part 10 files in `dir`, by SOP Instance UID.
std::map<std::string, std::string> Retrieved(const std::string& dir);

// Runs a DCMTK query or retrieve tool: `argv`, then "-k KEY" for each of `keys`, then the
// frontend's DIMSE address (127.0.0.1 `port`).
CommandResult RunScu(std::vector<std::string> argv, const std::vector<std::string>& keys,
                     const std::string& port);

class DimseTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Starts DCMTK's storescp, keeping received data sets' bytes as they arrive, in `dir`.
  void StartReferenceScp(const std::string& dir);

  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) std::cerr << "frontend log:\n" << FrontendLog();
  }
  std::string FrontendLog() { return ReadFileBytes(cluster_->LogFileOf("frontend")); }
  double Metric(const std::string& series) {
    absl::StatusOr<double> v = ScrapeMetric(cluster_->frontend_metrics(), series);
    return v.ok() ? *v : 0;
  }

  TempDir tmp_;
  std::string access_;
  std::unique_ptr<ExternalCluster> cluster_;
  std::unique_ptr<v1::ImageStore::Stub> stub_;
  std::string port_;
  std::string ref_port_;
  std::unique_ptr<Subprocess> ref_scp_;
};

}  // namespace medvault::testing
