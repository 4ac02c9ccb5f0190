// The certificate expiry every service exports: read from real development certificates with a
// chosen validity window, and registered by ServiceRunner under the service's name.
#include "common/tls_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/temp_dir.h"

namespace medvault {
namespace {

// 2030-06-15T12:00:00Z.
constexpr int64_t kNotAfter = 1907755200;

// certificate label -> value of the family `name`, empty when it is not registered.
std::map<std::string, double> Series(prometheus::Registry& registry, const std::string& name) {
  std::map<std::string, double> out;
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "certificate") out[label.value] = metric.gauge.value;
      }
    }
  }
  return out;
}

class TlsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        testing::MakeDevCerts(dir_.path(), {"chunkserver"}, {"20260101000000Z", "20300615120000Z"})
            .ok());
  }
  absl::StatusOr<TransportSecurity> Load() {
    return TransportSecurity::MutualTls(DefaultFilesystem(),
                                        testing::DevTlsFiles(dir_.path(), "chunkserver"));
  }
  testing::TempDir dir_;
};

TEST_F(TlsMetricsTest, NotAfterIsReadFromTheCertificate) {
  absl::StatusOr<TransportSecurity> security = Load();
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_EQ(security->certificate_not_after(), kNotAfter);
  // The CA is made for the script's default lifetime from now: another, later date.
  EXPECT_GT(security->ca_not_after(), 0);
  EXPECT_NE(security->ca_not_after(), kNotAfter);
  EXPECT_EQ(TransportSecurity::InsecurePlaintext().certificate_not_after(), 0);
  EXPECT_FALSE(CertificateNotAfter("not a certificate").ok());
}

TEST_F(TlsMetricsTest, EveryServiceRunnerExportsItsCertificatesExpiry) {
  absl::StatusOr<TransportSecurity> security = Load();
  ASSERT_TRUE(security.ok()) << security.status();
  ServiceRunner runner(ServerOptions{"chunkserver", "127.0.0.1:0", "", *security, ""});
  std::map<std::string, double> series =
      Series(runner.registry(), "medvault_chunkserver_tls_certificate_expiry_timestamp_seconds");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series["own"], static_cast<double>(kNotAfter));
  EXPECT_EQ(series["ca"], static_cast<double>(security->ca_not_after()));
}

TEST_F(TlsMetricsTest, PlaintextExportsNoCertificate) {
  ServiceRunner runner(
      ServerOptions{"chunkserver", "127.0.0.1:0", "", TransportSecurity::InsecurePlaintext(), ""});
  EXPECT_TRUE(
      Series(runner.registry(), "medvault_chunkserver_tls_certificate_expiry_timestamp_seconds")
          .empty());
}

}  // namespace
}  // namespace medvault
