#include "tests/testing/https_door.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/dev_certs.h"
#include "tests/testing/subprocess.h"

namespace medvault::testing {

absl::StatusOr<std::string> AddHttpsDoor(ClusterOptions& options) {
  absl::StatusOr<std::vector<int>> port = PickFreePorts(1);
  if (!port.ok()) return port.status();
  options.frontend_flags.push_back(absl::StrCat("--http_port=", (*port)[0]));
  return absl::StrCat("https://127.0.0.1:", (*port)[0]);
}

HttpAnswer CurlHttps(const ExternalCluster& cluster, const std::string& base, const std::string& as,
                     const std::string& path, const std::vector<std::string>& extra) {
  const std::string body = cluster.root() + "/curl-body";
  const std::string headers = cluster.root() + "/curl-headers";
  std::remove(body.c_str());
  std::vector<std::string> argv = {"/usr/bin/curl",
                                   "-sS",
                                   "--cacert",
                                   DevTlsFiles(cluster.tls_dir(), "client").ca_file,
                                   "-o",
                                   body,
                                   "-D",
                                   headers,
                                   "-w",
                                   "%{http_code}"};
  if (!as.empty()) {
    const TlsFiles tls = DevTlsFiles(cluster.tls_dir(), as);
    argv.insert(argv.end(), {"--cert", tls.cert_file, "--key", tls.key_file});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(base + path);
  CommandResult r = RunCommand(argv);
  HttpAnswer a;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  a.status = std::atoi(r.out.c_str());
  std::ifstream in(body, std::ios::binary);
  a.body.assign(std::istreambuf_iterator<char>(in), {});
  std::ifstream h(headers);
  for (std::string line; std::getline(h, line);) {
    absl::string_view v = absl::StripTrailingAsciiWhitespace(line);
    const size_t colon = v.find(':');
    absl::StrAppend(&a.headers, absl::AsciiStrToLower(v.substr(0, colon)),
                    colon == absl::string_view::npos ? "" : v.substr(colon), "\n");
    if (absl::StartsWithIgnoreCase(v, "content-type:")) {
      a.content_type = std::string(absl::StripAsciiWhitespace(v.substr(13)));
    }
  }
  return a;
}

}  // namespace medvault::testing
