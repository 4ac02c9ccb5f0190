#include "tests/testing/metrics_scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medvault::testing {

std::string HttpGet(const std::string& host_port, const std::string& path) {
  std::vector<std::string> hp = absl::StrSplit(host_port, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) return "";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  // A process that stopped answering (SIGSTOP, a wedged exporter) must not hang the test.
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, hp[0].c_str(), &addr.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\n\r\n");
    (void)!::write(fd, req.data(), req.size());
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::StatusOr<double> MetricValue(absl::string_view metrics_text, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(metrics_text, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    // "NAME VALUE" or "NAME VALUE TIMESTAMP".
    if (absl::SimpleAtod(line.substr(0, line.find(' ')), &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat("no series ", name));
}

absl::StatusOr<double> ScrapeMetric(const std::string& host_port, absl::string_view name) {
  std::string response = HttpGet(host_port, "/metrics");
  if (response.empty())
    return absl::UnavailableError(absl::StrCat("nothing served on ", host_port, "/metrics"));
  return MetricValue(response, name);
}

double FrontendRequests(const std::string& host_port, absl::string_view method) {
  const std::string text = HttpGet(host_port, "/metrics");
  const std::string label = absl::StrCat("method=\"", method, "\"");
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "medvault_frontend_requests_total{") ||
        line.find(label) == absl::string_view::npos) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

}  // namespace medvault::testing
