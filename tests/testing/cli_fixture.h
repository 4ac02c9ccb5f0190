// What the integration tests of the `medvault` CLI's medium verbs (import_test, export_test) share:
// running the CLI against a cluster, counting the frontend's PutInstance calls, and reading one
// attribute of a DICOM file. Header-only: it reports a file DCMTK cannot load as a test failure.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

// `medvault ARGS...` with the cluster's frontend address and TLS flags.
inline CommandResult Cli(const ExternalCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// PutInstance calls the frontend has answered, whatever their result.
inline double PutCalls(const ExternalCluster& cluster) {
  return FrontendRequests(cluster.frontend_metrics(), "PutInstance");
}

// The value of `tag` in the DICOM file at `path` ("" when absent); a file that does not load
// fails the test.
inline std::string Attribute(const std::string& path, const DcmTagKey& tag) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
  OFString value;
  file.getDataset()->findAndGetOFString(tag, value);
  return value.c_str();
}

}  // namespace medvault::testing
