// DICOM TLS on the DIMSE door (issue 16): DCMTK's echoscu and storescu with their +tls options,
// presenting the cluster's client certificate and trusting the cluster's CA (scripts/dev-certs
// makes both), against the real frontend's TLS port; and C-MOVE to DCMTK's storescp +tls.
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/testing/dev_certs.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/dicom_echo.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::CommandResult;
using testing::RunCommand;
namespace fs = std::filesystem;

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;

TEST(DimseTlsTest, TlsPeersWithTheClusterCaEchoAndStorePlainAndUncertifiedOnesAreRefused) {
  testing::TempDir tmp;
  testing::ClusterOptions options;
  options.frontend_flags = {"--dicom_tls_port=0"};
  testing::ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  const std::string port = std::to_string(cluster.frontend_dicom_port(/*tls=*/true));
  ASSERT_NE(port, "0");
  const std::string tls = cluster.tls_dir();
  const std::vector<std::string> with_cert = {"+tls", tls + "/client.key", tls + "/client.crt",
                                              "+cf", tls + "/ca.crt"};
  auto tool = [&](const std::string& binary, const std::vector<std::string>& tls_args,
                  const std::vector<std::string>& rest) {
    std::vector<std::string> argv = {binary, "-aet", "TLSSCU", "-aec", "MEDVAULT"};
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    argv.insert(argv.end(), rest.begin(), rest.end());
    return RunCommand(argv);
  };

  CommandResult echo = tool("/usr/bin/echoscu", with_cert, {"127.0.0.1", port});
  EXPECT_EQ(echo.exit_code, 0) << echo.out << echo.err;
  CommandResult store =
      tool("/usr/bin/storescu", with_cert, {"127.0.0.1", port, kFiles + "/CT_small.dcm"});
  EXPECT_EQ(store.exit_code, 0) << store.out << store.err;
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  OFString uid;
  ct.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), uid.c_str());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(testing::MetaString(testing::SplitPart10(*got).first, DCM_SourceApplicationEntityTitle),
            "TLSSCU");

  // Plain DICOM on the TLS port, and TLS without a client certificate: no association.
  CommandResult plain = tool("/usr/bin/echoscu", {}, {"127.0.0.1", port});
  EXPECT_NE(plain.exit_code, 0);
  CommandResult anonymous =
      tool("/usr/bin/echoscu", {"+tla", "+cf", tls + "/ca.crt"}, {"127.0.0.1", port});
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.out;
  // A client certificate of another CA (self-signed here): refused in the handshake.
  const std::string rogue = tmp.path() + "/rogue";
  ASSERT_EQ(RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", rogue + ".key", "-out",
                        rogue + ".crt", "-subj", "/CN=rogue", "-days", "1"})
                .exit_code,
            0);
  CommandResult rogue_echo =
      tool("/usr/bin/echoscu", {"+tls", rogue + ".key", rogue + ".crt", "+cf", tls + "/ca.crt"},
           {"127.0.0.1", port});
  EXPECT_NE(rogue_echo.exit_code, 0) << rogue_echo.out;
  const std::string log = testing::ReadFileBytes(cluster.LogFileOf("frontend"));
  EXPECT_TRUE(absl::StrContains(log, "with DICOM TLS"));
  EXPECT_TRUE(absl::StrContains(log, "audit op=dimse-store service=frontend caller=dicom/TLSSCU"));
  EXPECT_TRUE(cluster.Stop().ok());
}

// C-MOVE to destinations that speak DICOM TLS (peers-file entries marked "tls" or "tls=CA_FILE"):
// DCMTK's storescp +tls as the destination, requiring medvault's certificate; movescu drives the
// move over the plain port. One destination's certificate is signed by the cluster's CA; one
// presents a self-signed certificate, which fails the handshake (A702 with the comment saying so)
// unless its entry names that certificate as its CA.
TEST(DimseTlsTest, CMoveReachesTlsDestinationsAndRefusesUntrustedOnes) {
  testing::TempDir tmp;
  absl::StatusOr<std::vector<int>> ports = testing::PickFreePorts(3);
  ASSERT_TRUE(ports.ok());
  const std::string trusted_port = std::to_string((*ports)[0]);
  const std::string rogue_port = std::to_string((*ports)[1]);
  const std::string own_ca_port = std::to_string((*ports)[2]);
  const std::string rogue = tmp.path() + "/rogue";
  ASSERT_EQ(RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", rogue + ".key", "-out",
                        rogue + ".crt", "-subj", "/CN=rogue", "-days", "1"})
                .exit_code,
            0);
  const std::string peers = tmp.path() + "/dicom-peers";
  std::ofstream(peers) << "TLSDEST 127.0.0.1 " << trusted_port << " tls\nROGUE 127.0.0.1 "
                       << rogue_port << " tls\nOWNCA 127.0.0.1 " << own_ca_port << " tls=" << rogue
                       << ".crt\n";
  testing::ClusterOptions options;
  options.frontend_flags = {"--dicom_peers_file=" + peers};
  testing::ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  const std::string port = std::to_string(cluster.frontend_dicom_port());
  const std::string tls = cluster.tls_dir();
  ASSERT_TRUE(testing::MakeDevCerts(tls, {"dicom-dest"}).ok());

  // Three storescp destinations over TLS, each requiring a client certificate of the cluster CA.
  std::vector<std::unique_ptr<testing::Subprocess>> scps;
  auto destination = [&](const std::string& ae, const std::string& port_text,
                         const std::string& key, const std::string& cert,
                         const std::string& issuer) {
    const std::string dir = tmp.path() + "/" + ae;
    fs::create_directories(dir);
    auto scp = testing::Subprocess::Start(
        {"/usr/bin/storescp", "--bit-preserving", "+xa", "-aet", ae, "+tls", key, cert, "+cf",
         tls + "/ca.crt", "-od", dir, port_text},
        tmp.path() + "/" + ae + ".log");
    EXPECT_TRUE(scp.ok());
    if (scp.ok()) scps.push_back(std::move(*scp));
    // Ready once it answers an echo over TLS.
    EXPECT_TRUE(testing::WaitForEcho({"-aec", ae, "+tls", tls + "/client.key", tls + "/client.crt",
                                      "+cf", issuer, "127.0.0.1", port_text}))
        << ae << " did not start";
    return dir;
  };
  const std::string trusted_dir = destination("TLSDEST", trusted_port, tls + "/dicom-dest.key",
                                              tls + "/dicom-dest.crt", tls + "/ca.crt");
  destination("ROGUE", rogue_port, rogue + ".key", rogue + ".crt", rogue + ".crt");
  const std::string own_ca_dir =
      destination("OWNCA", own_ca_port, rogue + ".key", rogue + ".crt", rogue + ".crt");

  // CT_small stored over plain DICOM; its data set as medvault holds it.
  CommandResult store = RunCommand({"/usr/bin/storescu", "-aet", "STORESCU", "-aec", "MEDVAULT",
                                    "127.0.0.1", port, kFiles + "/CT_small.dcm"});
  ASSERT_EQ(store.exit_code, 0) << store.err;
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  OFString study, sop;
  ct.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study);
  ct.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  absl::StatusOr<std::string> stored = testing::GetInstance(stub.get(), sop.c_str());
  ASSERT_TRUE(stored.ok()) << stored.status();

  auto move = [&](const std::string& destination_ae) {
    return RunCommand({"/usr/bin/movescu", "-S", "-d", "-aet", "MOVESCU", "-aec", "MEDVAULT",
                       "-aem", destination_ae, "-k", "QueryRetrieveLevel=STUDY", "-k",
                       std::string("StudyInstanceUID=") + study.c_str(), "127.0.0.1", port});
  };
  for (const auto& [ae, dir] : std::vector<std::pair<std::string, std::string>>{
           {"TLSDEST", trusted_dir}, {"OWNCA", own_ca_dir}}) {
    CommandResult moved = move(ae);
    EXPECT_EQ(moved.exit_code, 0) << moved.out << moved.err;
    const std::map<std::string, std::string> received = testing::DataSetsBySopInstanceUid(dir);
    ASSERT_EQ(received.count(sop.c_str()), 1u) << ae << "\n" << moved.out << moved.err;
    EXPECT_TRUE(received.at(sop.c_str()) == testing::SplitPart10(*stored).second) << ae;
  }

  // The self-signed destination under the cluster CA: a failed sub-operation, A702, and the
  // Error Comment names the TLS handshake.
  CommandResult refused = move("ROGUE");
  const std::string out = refused.out + refused.err;
  EXPECT_TRUE(absl::StrContains(out, "0xa702")) << out;
  EXPECT_TRUE(absl::StrContains(out, "Move Destination failed the DICOM TLS handshake")) << out;
  const std::string log = testing::ReadFileBytes(cluster.LogFileOf("frontend"));
  EXPECT_TRUE(absl::StrContains(log, "DICOM TLS handshake failed")) << log;
  EXPECT_TRUE(
      absl::StrContains(log,
                        "audit op=dimse-move service=frontend caller=dicom/MOVESCU peer=127.0.0.1 "
                        "destination=ROGUE status=0xA702 completed=0 failed=1 warning=0"));
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
