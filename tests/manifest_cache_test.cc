// Issue 20's delete invariant with the frontend's manifest cache, on the real binaries: two
// frontends on one cluster; frontend A reads an instance twice (the second time from its cache,
// which its metrics show), frontend B deletes it, and A's next read fails with NOT_FOUND and
// writes nothing, although A still held the manifest (docs/architecture.md, "Manifest cache").
// Both frontends also hold study key grants (issue 20; frontend/core/key_grants.h) that outlive
// the test: A's first read makes one (one audited release naming the study's objects), and
// neither its cached read nor the read after the delete is served from it.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/dev_certs.h"
#include "common/tls.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;

constexpr char kFile[] = "CT_small.dcm";
constexpr char kUid[] = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";

// The CLI against `frontend` with the cluster's client certificate, then `args`.
testing::CommandResult Cli(const ExternalCluster& cluster, const std::string& frontend,
                           std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--frontend") argv[i + 1] = frontend;
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

TEST(ManifestCacheTest, ADeleteThroughOneFrontendFailsTheNextReadThroughAnotherThatCachedIt) {
  testing::ClusterOptions options;
  options.frontend_flags = {"--manifest_cache_entries=100", "--manifest_cache_seconds=3600",
                            "--key_grant_seconds=300"};
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  const std::string a = cluster.frontend();

  // Frontend B: the same binary, flags and certificate, its own process.
  const TlsFiles tls = testing::DevTlsFiles(cluster.tls_dir(), "frontend");
  auto b_process =
      testing::Subprocess::Start({ExternalCluster::Binary("frontend"), "--listen=127.0.0.1:0",
                                  "--metrics_listen=", "--metaserver=" + cluster.metaserver(),
                                  "--keyservice=" + cluster.keyservice(), "--tls_ca=" + tls.ca_file,
                                  "--tls_cert=" + tls.cert_file, "--tls_key=" + tls.key_file,
                                  "--client_scopes_file=" + cluster.root() + "/client-scopes",
                                  "--manifest_cache_entries=100", "--key_grant_seconds=300"},
                                 cluster.root() + "/frontend-b.log");
  ASSERT_TRUE(b_process.ok()) << b_process.status();
  absl::StatusOr<std::string> line = (*b_process)->ReadLine(std::chrono::seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  const size_t at = line->find("grpc=");
  ASSERT_NE(at, std::string::npos) << *line;
  const std::string b = line->substr(at + 5, line->find(' ', at) - at - 5);

  const std::string input = std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + kFile;
  auto put = Cli(cluster, b, {"put", input});
  ASSERT_EQ(put.exit_code, 0) << put.err;

  const std::string out = cluster.root() + "/read.dcm";
  for (int i = 0; i < 2; ++i) {
    auto read = Cli(cluster, a, {"get", "--instance", kUid, "-o", out});
    ASSERT_EQ(read.exit_code, 0) << read.err;
  }
  std::ifstream in(input, std::ios::binary), got(out, std::ios::binary);
  ASSERT_EQ(std::string(std::istreambuf_iterator<char>(got), {}),
            std::string(std::istreambuf_iterator<char>(in), {}));
  absl::StatusOr<double> hits =
      cluster.Metric("frontend", "medvault_frontend_manifest_cache_hits_total");
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_GE(*hits, 1) << "frontend A did not read from its cache: the test would prove nothing";
  // The first read made A's grant for the study: one release record, on behalf of the client,
  // naming the study by reference; the cached read released its key alone, not from the grant.
  absl::StatusOr<double> grants =
      cluster.Metric("frontend", "medvault_frontend_key_grant_releases_total");
  ASSERT_TRUE(grants.ok()) << grants.status();
  ASSERT_EQ(*grants, 1) << "frontend A made no grant: the test would prove nothing";
  absl::StatusOr<std::vector<v1::AuditRecord>> releases = testing::KeyReleasesOf(cluster, kUid);
  ASSERT_TRUE(releases.ok()) << releases.status();
  ASSERT_EQ(releases->size(), 2u);
  EXPECT_TRUE(absl::StartsWith((*releases)[0].purpose(), "GetInstance (study grant "))
      << (*releases)[0].purpose();
  EXPECT_EQ((*releases)[0].on_behalf_of(), "client/client");
  EXPECT_EQ((*releases)[0].result(), "OK");
  EXPECT_EQ((*releases)[1].purpose(), "GetInstance") << "the cached read was served by the grant";

  auto removed = Cli(cluster, b, {"rm", "--instance", kUid});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;

  std::remove(out.c_str());
  auto after = Cli(cluster, a, {"get", "--instance", kUid, "-o", out});
  EXPECT_NE(after.exit_code, 0) << "a deleted instance was read through a frontend's cache";
  EXPECT_TRUE(absl::StrContains(after.err, "NOT_FOUND")) << after.err;
  std::ifstream gone(out, std::ios::binary);
  EXPECT_TRUE(!gone.good() || gone.peek() == std::ifstream::traits_type::eof())
      << "bytes of a deleted instance were written";
  absl::StatusOr<double> hits_after =
      cluster.Metric("frontend", "medvault_frontend_manifest_cache_hits_total");
  ASSERT_TRUE(hits_after.ok()) << hits_after.status();
  EXPECT_GT(*hits_after, *hits) << "the read after the delete did not try the cached manifest";
}

}  // namespace
}  // namespace medvault
