// Mutual TLS on a cluster of the real binaries (each service with its certificate, as
// scripts/cluster up runs them): every gRPC port refuses plaintext, a client without a certificate,
// a certificate from another CA and an expired certificate, while the cluster's own client
// certificate is served; and a client refuses a server whose certificate names another service.
// (That the services reach each other over mutual TLS is shown by cluster_test, whose puts and
// gets need every hop while every port refuses plaintext.)
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "common/tls.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;
using testing::RunCommand;

// One grpc.health.v1 Check through `channel`.
grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckResponse resp;
  return stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
}

class MtlsTest : public ::testing::Test {
 protected:
  // One cluster for every test: they only read from it, and each adds only its own certificates.
  static void SetUpTestSuite() {
    cluster_ = new ExternalCluster();
    started_ = cluster_->Start();
  }
  static void TearDownTestSuite() {
    if (started_.ok()) {
      EXPECT_TRUE(cluster_->Stop().ok());
    }
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_.ok()) << started_; }

  // Every gRPC endpoint of the cluster with the name its certificate carries.
  static std::vector<std::pair<std::string, std::string>> Endpoints() {
    std::vector<std::pair<std::string, std::string>> out = {
        {cluster_->frontend(), kFrontendPeer},
        {cluster_->metaserver(), kMetaServerPeer},
        {cluster_->keyservice(), kKeyServicePeer}};
    for (const std::string& a : cluster_->chunkservers()) out.emplace_back(a, kChunkServerPeer);
    return out;
  }

  // A channel to `address` that trusts the cluster's CA and requires the server to be `peer`, and
  // presents `cert_file`/`key_file` (none when empty). Whatever fails with it, the server refused.
  static std::shared_ptr<grpc::Channel> Dial(const std::string& address, const std::string& peer,
                                             const std::string& cert_file,
                                             const std::string& key_file) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(cluster_->tls_dir() + "/ca.crt");
    if (!cert_file.empty()) options.pem_cert_chain = ReadWholeFile(cert_file);
    if (!key_file.empty()) options.pem_private_key = ReadWholeFile(key_file);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(peer);
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args);
  }

  // The CLI against the frontend with the cluster's CA and the given client certificate.
  static testing::CommandResult CliWith(const std::string& cert_file, const std::string& key_file,
                                        std::vector<std::string> args) {
    std::vector<std::string> argv = {ExternalCluster::Binary("medvault"),
                                     "--frontend",
                                     cluster_->frontend(),
                                     "--tls_ca",
                                     cluster_->tls_dir() + "/ca.crt",
                                     "--tls_cert",
                                     cert_file,
                                     "--tls_key",
                                     key_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  static ExternalCluster* cluster_;
  static absl::Status started_;
};
ExternalCluster* MtlsTest::cluster_ = nullptr;
absl::Status MtlsTest::started_;

TEST_F(MtlsTest, TheClusterCertificateIsServedEverywhere) {
  const TlsFiles client = testing::DevTlsFiles(cluster_->tls_dir(), "client");
  for (const auto& [address, peer] : Endpoints()) {
    grpc::Status s = Check(Dial(address, peer, client.cert_file, client.key_file));
    EXPECT_TRUE(s.ok()) << peer << " at " << address << ": " << s.error_message();
  }
  // And a whole put through the CLI, which needs frontend -> keyservice, metaserver, chunkservers.
  auto put = CliWith(client.cert_file, client.key_file,
                     {"put", std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
}

TEST_F(MtlsTest, PlaintextIsRefusedOnEveryPort) {
  for (const auto& [address, peer] : Endpoints()) {
    grpc::Status s = Check(MakeChannel(address, TransportSecurity::InsecurePlaintext(), peer));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << peer << " at " << address << " answered plaintext";
  }
  auto cli = RunCommand({ExternalCluster::Binary("medvault"), "--frontend", cluster_->frontend(),
                         "--insecure_plaintext", "find"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.err, "UNAVAILABLE")) << cli.err;
}

TEST_F(MtlsTest, ClientWithoutACertificateIsRefused) {
  for (const auto& [address, peer] : Endpoints()) {
    grpc::Status s = Check(Dial(address, peer, "", ""));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << peer << " at " << address << " served an anonymous client";
  }
}

TEST_F(MtlsTest, CertificateFromAnotherCaIsRefused) {
  const std::string other = cluster_->root() + "/other-ca";
  ASSERT_TRUE(testing::MakeDevCerts(other, {"client", "frontend"}).ok());
  const TlsFiles foreign = testing::DevTlsFiles(other, "client");
  // A well-formed certificate, valid under its own CA.
  auto verify =
      RunCommand({"/usr/bin/openssl", "verify", "-CAfile", other + "/ca.crt", foreign.cert_file});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  for (const auto& [address, peer] : Endpoints()) {
    grpc::Status s = Check(Dial(address, peer, foreign.cert_file, foreign.key_file));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << peer << " at " << address << " served a foreign client";
  }
  // Even one naming a medvault service: identity counts only when the cluster's CA vouches for it.
  const TlsFiles fake_frontend = testing::DevTlsFiles(other, "frontend");
  EXPECT_EQ(Check(Dial(cluster_->keyservice(), kKeyServicePeer, fake_frontend.cert_file,
                       fake_frontend.key_file))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  auto cli = CliWith(foreign.cert_file, foreign.key_file, {"find"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.err, "UNAVAILABLE")) << cli.err;
}

TEST_F(MtlsTest, ExpiredCertificateIsRefused) {
  // Signed by the cluster's CA, valid for one day in 2020.
  testing::DevCertOptions past;
  past.not_before = "20200101000000Z";
  past.not_after = "20200102000000Z";
  ASSERT_TRUE(testing::MakeDevCerts(cluster_->tls_dir(), {"expired-client"}, past).ok());
  const TlsFiles expired = testing::DevTlsFiles(cluster_->tls_dir(), "expired-client");
  // Its only fault is the date: openssl rejects it as expired, and accepts it with time checks off.
  const std::string ca = cluster_->tls_dir() + "/ca.crt";
  auto now = RunCommand({"/usr/bin/openssl", "verify", "-CAfile", ca, expired.cert_file});
  EXPECT_NE(now.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(now.out + now.err, "certificate has expired"))
      << now.out << now.err;
  auto timeless = RunCommand(
      {"/usr/bin/openssl", "verify", "-no_check_time", "-CAfile", ca, expired.cert_file});
  EXPECT_EQ(timeless.exit_code, 0) << timeless.out << timeless.err;

  for (const auto& [address, peer] : Endpoints()) {
    grpc::Status s = Check(Dial(address, peer, expired.cert_file, expired.key_file));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << peer << " at " << address << " served an expired client";
  }
  auto cli = CliWith(expired.cert_file, expired.key_file, {"find"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.err, "UNAVAILABLE")) << cli.err;
}

TEST_F(MtlsTest, ClientRefusesAServerThatIsNotTheServiceItDialled) {
  // Every server holds a valid certificate from the cluster's CA, but only for its own name: a
  // client that dials the metaserver's address expecting the key service refuses it.
  const TlsFiles client = testing::DevTlsFiles(cluster_->tls_dir(), "client");
  EXPECT_TRUE(
      Check(Dial(cluster_->keyservice(), kKeyServicePeer, client.cert_file, client.key_file)).ok());
  EXPECT_EQ(Check(Dial(cluster_->metaserver(), kKeyServicePeer, client.cert_file, client.key_file))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(
      Check(Dial(cluster_->chunkservers()[0], kMetaServerPeer, client.cert_file, client.key_file))
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // The CLI checks the frontend's name by default.
  auto cli = RunCommand({ExternalCluster::Binary("medvault"), "--frontend", cluster_->metaserver(),
                         "--tls_ca", cluster_->tls_dir() + "/ca.crt", "--tls_cert",
                         client.cert_file, "--tls_key", client.key_file, "find"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_TRUE(absl::StrContains(cli.err, "UNAVAILABLE")) << cli.err;
}

TEST_F(MtlsTest, AServiceRefusesAPeerThatIsNotTheServiceItDialled) {
  // A second frontend, with its own valid certificate, told that the key service is at the
  // metaserver's address. The metaserver's certificate does not name "keyservice", so the
  // frontend must refuse it: a put cannot get a data key. The control: the same frontend with the
  // right addresses stores the file.
  auto start_frontend = [&](const std::string& name, const std::string& keyservice)
      -> absl::StatusOr<std::pair<std::unique_ptr<testing::Subprocess>, std::string>> {
    const TlsFiles tls = testing::DevTlsFiles(cluster_->tls_dir(), "frontend");
    auto process =
        testing::Subprocess::Start({ExternalCluster::Binary("frontend"), "--listen=127.0.0.1:0",
                                    "--metrics_listen=", "--metaserver=" + cluster_->metaserver(),
                                    "--keyservice=" + keyservice, "--tls_ca=" + tls.ca_file,
                                    "--tls_cert=" + tls.cert_file, "--tls_key=" + tls.key_file,
                                    "--client_scopes_file=" + cluster_->root() + "/client-scopes"},
                                   absl::StrCat(cluster_->root(), "/", name, ".log"));
    if (!process.ok()) return process.status();
    auto line = (*process)->ReadLine(std::chrono::seconds(30));  // "frontend listening grpc=A ..."
    if (!line.ok()) return line.status();
    size_t at = line->find("grpc=");
    if (at == std::string::npos) return absl::InternalError(*line);
    std::string address = line->substr(at + 5, line->find(' ', at) - at - 5);
    return std::make_pair(std::move(*process), address);
  };
  const TlsFiles client = testing::DevTlsFiles(cluster_->tls_dir(), "client");
  auto put_through = [&](const std::string& frontend, const std::string& file) {
    return RunCommand({ExternalCluster::Binary("medvault"), "--frontend", frontend, "--tls_ca",
                       cluster_->tls_dir() + "/ca.crt", "--tls_cert", client.cert_file, "--tls_key",
                       client.key_file, "put",
                       std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
  };

  auto misdirected = start_frontend("frontend-misdirected", cluster_->metaserver());
  ASSERT_TRUE(misdirected.ok()) << misdirected.status();
  auto refused = put_through(misdirected->second, "MR_small.dcm");
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_TRUE(absl::StrContains(refused.err, "UNAVAILABLE")) << refused.err;

  auto right = start_frontend("frontend-right", cluster_->keyservice());
  ASSERT_TRUE(right.ok()) << right.status();
  auto stored = put_through(right->second, "MR_small.dcm");
  EXPECT_EQ(stored.exit_code, 0) << stored.err;
}

}  // namespace
}  // namespace medvault
