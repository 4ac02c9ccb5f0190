#include "tests/testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace medvault::testing {
namespace {

int Connect(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) return -1;
  sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies from `from` to `to` until end of stream or an error, then ends `to`'s writing side.
void Pump(int from, int to) {
  char buf[64 << 10];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ::shutdown(from, SHUT_RD);
        ::shutdown(to, SHUT_WR);
        return;
      }
      off += w;
    }
  }
  ::shutdown(to, SHUT_WR);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& backend) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError("proxy: socket");
  sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return absl::UnavailableError("proxy: cannot listen");
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, absl::StrCat("127.0.0.1:", ntohs(sa.sin_port)), backend));
}

TcpProxy::TcpProxy(int listen_fd, std::string address, std::string backend)
    : listen_fd_(listen_fd), address_(std::move(address)), backend_(std::move(backend)) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  for (int fd : fds_) ::close(fd);
}

void TcpProxy::set_backend(const std::string& backend) {
  std::lock_guard<std::mutex> lock(mu_);
  backend_ = backend;
}

void TcpProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p = {listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(client);
    threads_.emplace_back([this, client] { Serve(client); });
    ++accepted_;
    accepted_cv_.notify_all();
  }
}

int TcpProxy::connections() {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

bool TcpProxy::WaitForConnections(int n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return accepted_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                               [&] { return accepted_ >= n; });
}

void TcpProxy::Serve(int client) {
  std::string backend;
  {
    std::lock_guard<std::mutex> lock(mu_);
    backend = backend_;
  }
  // A backend that refuses: the client's connection is closed, as a Service with no ready
  // endpoint resets it.
  int upstream = Connect(backend);
  if (upstream < 0) {
    ::shutdown(client, SHUT_RDWR);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(upstream);
  }
  std::thread back([client, upstream] { Pump(upstream, client); });
  Pump(client, upstream);
  back.join();
}

}  // namespace medvault::testing
