#include "tests/testing/dimse_fixture.h"

#include <fstream>

#include "common/tls.h"
#include "tests/testing/dicom_echo.h"

namespace medvault::testing {

std::map<std::string, std::string> Retrieved(const std::string& dir) {
  return DataSetsBySopInstanceUid(dir);
}

CommandResult RunScu(std::vector<std::string> argv, const std::vector<std::string>& keys,
                     const std::string& port) {
  for (const std::string& k : keys) {
    argv.push_back("-k");
    argv.push_back(k);
  }
  argv.push_back("127.0.0.1");
  argv.push_back(port);
  return RunCommand(argv);
}

void DimseTest::SetUp() {
  // Named peers: READER may not store, STRANGER only from an address the test is not at,
  // every other AE title is not listed.
  access_ = tmp_.path() + "/dicom-access";
  std::ofstream(access_) << "READER loopback read\nSTRANGER 10.9.9.9 read,write\n"
                            "ECHOSCU loopback read,write\nSTORESCU loopback read,write\n"
                            "DCMSEND loopback read,write\nABORTER loopback write\n"
                            "FINDSCU loopback read\nGETSCU loopback read\n";
  ClusterOptions options;
  options.chunk_size_bytes = 64 << 10;  // larger files span several chunks
  options.frontend_flags = {"--dicom_access_file=" + access_};
  cluster_ = std::make_unique<ExternalCluster>(options);
  ASSERT_TRUE(cluster_->Start().ok());
  port_ = std::to_string(cluster_->frontend_dicom_port());
  ASSERT_NE(port_, "0");
  stub_ = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
}

void DimseTest::StartReferenceScp(const std::string& dir) {
  absl::StatusOr<std::vector<int>> ports = PickFreePorts(1);
  ASSERT_TRUE(ports.ok());
  ref_port_ = std::to_string((*ports)[0]);
  auto scp = Subprocess::Start(
      {"/usr/bin/storescp", "--bit-preserving", "+xa", "-aet", "REF", "-od", dir, ref_port_},
      tmp_.path() + "/storescp.log");
  ASSERT_TRUE(scp.ok());
  ref_scp_ = std::move(*scp);
  ASSERT_TRUE(WaitForEcho({"-aec", "REF", "127.0.0.1", ref_port_})) << "storescp did not start";
}

}  // namespace medvault::testing
