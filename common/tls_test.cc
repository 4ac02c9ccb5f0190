// TransportSecurity: loading and checking the PEM files, the choice the flags make, and real mutual
// TLS handshakes on loopback (a ServiceRunner with the health service, dialled by gRPC channels).
#include "common/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace medvault {
namespace {

using testing::DevTlsFiles;

using ::medvault::testing::ReadWholeFile;

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Certificates shared by every test: one CA with a key service and a client, plus a second,
// unrelated CA with its own client.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_TRUE(testing::MakeDevCerts(ca(), {"keyservice", "client"}).ok());
    ASSERT_TRUE(testing::MakeDevCerts(other_ca(), {"client"}).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string ca() { return dir_->path() + "/ca"; }
  static std::string other_ca() { return dir_->path() + "/other"; }
  static std::string scratch(const std::string& name) { return dir_->path() + "/" + name; }

  static testing::TempDir* dir_;
};
testing::TempDir* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, GoodFilesBuildServerAndChannelCredentials) {
  absl::StatusOr<TransportSecurity> security =
      TransportSecurity::MutualTls(DefaultFilesystem(), DevTlsFiles(ca(), "keyservice"));
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_TRUE(security->is_tls());
  EXPECT_NE(security->server_credentials(), nullptr);
  EXPECT_NE(security->channel_credentials(), nullptr);
  EXPECT_EQ(security->Describe(), "mutual TLS");

  TransportSecurity plaintext = TransportSecurity::InsecurePlaintext();
  EXPECT_FALSE(plaintext.is_tls());
  EXPECT_NE(plaintext.server_credentials(), nullptr);
}

TEST_F(TlsTest, MissingFileIsNotFoundNamingTheFile) {
  for (int missing = 0; missing < 3; ++missing) {
    TlsFiles files = DevTlsFiles(ca(), "keyservice");
    std::string* path = missing == 0   ? &files.ca_file
                        : missing == 1 ? &files.cert_file
                                       : &files.key_file;
    *path = scratch("absent.pem");
    absl::StatusOr<TransportSecurity> security =
        TransportSecurity::MutualTls(DefaultFilesystem(), files);
    ASSERT_FALSE(security.ok());
    EXPECT_EQ(security.status().code(), absl::StatusCode::kNotFound) << security.status();
    EXPECT_TRUE(absl::StrContains(security.status().message(), "absent.pem")) << security.status();
    const char* what = missing == 0   ? "TLS CA file"
                       : missing == 1 ? "TLS certificate file"
                                      : "TLS key file";
    EXPECT_TRUE(absl::StrContains(security.status().message(), what)) << security.status();
  }
  TlsFiles no_key = DevTlsFiles(ca(), "keyservice");
  no_key.key_file.clear();
  EXPECT_EQ(TransportSecurity::MutualTls(DefaultFilesystem(), no_key).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, UnreadableKeyIsAnErrorNamingTheFile) {
  // A directory where the key should be: it exists but cannot be read as a file.
  TlsFiles files = DevTlsFiles(ca(), "keyservice");
  files.key_file = ca();
  absl::Status s = TransportSecurity::MutualTls(DefaultFilesystem(), files).status();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "TLS key file")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), ca())) << s;

  if (::geteuid() == 0) return;  // root reads files whatever their mode
  std::string key = scratch("unreadable.key");
  WriteAll(key, ReadWholeFile(DevTlsFiles(ca(), "keyservice").key_file));
  ASSERT_EQ(::chmod(key.c_str(), 0), 0);
  files.key_file = key;
  s = TransportSecurity::MutualTls(DefaultFilesystem(), files).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), key)) << s;
}

TEST_F(TlsTest, WrongContentsAreRefusedWithoutQuotingThem) {
  const std::string key_pem = ReadWholeFile(DevTlsFiles(ca(), "keyservice").key_file);
  // Every base64 line of the key: none may appear in any message.
  std::vector<std::string> key_lines;
  for (absl::string_view line : absl::StrSplit(key_pem, '\n')) {
    if (!line.empty() && !absl::StartsWith(line, "-----")) key_lines.emplace_back(line);
  }
  ASSERT_FALSE(key_lines.empty());
  auto expect_refused = [&](const TlsFiles& files, absl::string_view fragment) {
    absl::Status s = TransportSecurity::MutualTls(DefaultFilesystem(), files).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), fragment)) << s;
    for (const std::string& line : key_lines)
      EXPECT_FALSE(absl::StrContains(s.message(), line)) << s;
  };

  // The key where the certificate should be, and the certificate where the key should be.
  TlsFiles swapped = DevTlsFiles(ca(), "keyservice");
  std::swap(swapped.cert_file, swapped.key_file);
  expect_refused(swapped, "holds no PEM certificate");
  // A CA file that is not PEM.
  std::string garbage = scratch("garbage.pem");
  WriteAll(garbage, "not a certificate\n");
  TlsFiles bad_ca = DevTlsFiles(ca(), "keyservice");
  bad_ca.ca_file = garbage;
  expect_refused(bad_ca, "TLS CA file");
  // A key that belongs to another certificate.
  TlsFiles mismatched = DevTlsFiles(ca(), "keyservice");
  mismatched.cert_file = DevTlsFiles(ca(), "client").cert_file;
  expect_refused(mismatched, "does not belong to the certificate");
  // A truncated key.
  std::string truncated = scratch("truncated.key");
  WriteAll(truncated, key_pem.substr(0, key_pem.size() / 2));
  TlsFiles cut = DevTlsFiles(ca(), "keyservice");
  cut.key_file = truncated;
  expect_refused(cut, "holds no unencrypted PEM private key");
}

TEST_F(TlsTest, FlagsChooseExplicitly) {
  Filesystem* fs = DefaultFilesystem();
  const TlsFiles files = DevTlsFiles(ca(), "keyservice");
  auto tls = ChooseTransportSecurity(fs, files, false);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->is_tls());
  auto plaintext = ChooseTransportSecurity(fs, TlsFiles{}, true);
  ASSERT_TRUE(plaintext.ok());
  EXPECT_FALSE(plaintext->is_tls());

  // Nothing chosen: refused, never a silent fall back to plaintext.
  absl::Status neither = ChooseTransportSecurity(fs, TlsFiles{}, false).status();
  EXPECT_EQ(neither.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(neither.message(), "--insecure_plaintext")) << neither;
  EXPECT_EQ(ChooseTransportSecurity(fs, files, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsFiles partial = files;
  partial.key_file.clear();
  EXPECT_EQ(ChooseTransportSecurity(fs, partial, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A real server with mutual TLS on 127.0.0.1, dialled by channels of different kinds.
class HandshakeTest : public TlsTest {
 protected:
  void SetUp() override {
    auto security =
        TransportSecurity::MutualTls(DefaultFilesystem(), DevTlsFiles(ca(), "keyservice"));
    ASSERT_TRUE(security.ok()) << security.status();
    runner_ = std::make_unique<ServiceRunner>(
        ServerOptions{"keyservice", "127.0.0.1:0", "", *security, ""});
    ASSERT_TRUE(runner_->Start().ok());
  }

  // One health check through `channel`.
  static grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckResponse resp;
    return stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  }

  static TransportSecurity Client(const std::string& dir) {
    return TransportSecurity::MutualTls(DefaultFilesystem(), DevTlsFiles(dir, "client")).value();
  }

  std::unique_ptr<ServiceRunner> runner_;
};

TEST_F(HandshakeTest, ClientWithCertificateReachesTheNamedService) {
  EXPECT_TRUE(Check(MakeChannel(runner_->bound_address(), Client(ca()), kKeyServicePeer)).ok());
  // No name: checked against the dialled host, 127.0.0.1, which the dev certificates carry.
  EXPECT_TRUE(Check(MakeChannel(runner_->bound_address(), Client(ca()), "")).ok());
}

TEST_F(HandshakeTest, ServerWithTheWrongNameIsRefusedByTheClient) {
  // The server holds a valid "keyservice" certificate from the right CA, but the client wants the
  // metaserver: gRPC's name check against GRPC_SSL_TARGET_NAME_OVERRIDE_ARG fails the handshake.
  grpc::Status s = Check(MakeChannel(runner_->bound_address(), Client(ca()), kMetaServerPeer));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(HandshakeTest, ServerRefusesClientsWithoutAGoodCertificate) {
  // Channels that trust the server's CA and check its name, so any refusal below is the server's.
  auto dial = [&](const std::string& cert_file, const std::string& key_file) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(ca() + "/ca.crt");
    if (!cert_file.empty()) options.pem_cert_chain = ReadWholeFile(cert_file);
    if (!key_file.empty()) options.pem_private_key = ReadWholeFile(key_file);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(kKeyServicePeer);
    return Check(
        grpc::CreateCustomChannel(runner_->bound_address(), grpc::SslCredentials(options), args));
  };
  const TlsFiles good = DevTlsFiles(ca(), "client");
  const TlsFiles foreign = DevTlsFiles(other_ca(), "client");
  // The control: the same kind of channel with the right certificate is served.
  EXPECT_TRUE(dial(good.cert_file, good.key_file).ok());

  grpc::Status anonymous = dial("", "");
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAVAILABLE) << anonymous.error_message();
  grpc::Status other = dial(foreign.cert_file, foreign.key_file);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNAVAILABLE) << other.error_message();
  grpc::Status plain = Check(MakeChannel(runner_->bound_address(),
                                         TransportSecurity::InsecurePlaintext(), kKeyServicePeer));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
  // The server still serves a good client afterwards.
  EXPECT_TRUE(Check(MakeChannel(runner_->bound_address(), Client(ca()), kKeyServicePeer)).ok());
}

}  // namespace
}  // namespace medvault
