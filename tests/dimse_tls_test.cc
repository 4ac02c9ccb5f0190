// DICOM TLS on the DIMSE door (issue 16): DCMTK's echoscu and storescu with their +tls options,
// presenting the cluster's client certificate and trusting the cluster's CA (scripts/dev-certs
// makes both), against the real frontend's TLS port.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::CommandResult;
using testing::RunCommand;

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

}  // namespace
}  // namespace medvault
