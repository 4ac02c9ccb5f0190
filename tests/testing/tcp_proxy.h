// A TCP forwarder standing in for a Kubernetes Service in front of a Deployment: clients connect to
// one stable address; each new connection goes to the backend set at that moment (a ready pod),
// while connections already open stay with their backend until either side closes them. Test-only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace medvault::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port).
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(const std::string& backend);
  ~TcpProxy();  // stops accepting, closes every connection, joins every thread

  const std::string& address() const { return address_; }
  // New connections go to `backend` ("127.0.0.1:port") from now on.
  void set_backend(const std::string& backend);
  // True once `n` connections were accepted since Start; false if `timeout` passes first. A
  // connection counts when accepted, whether its backend then answers or not.
  bool WaitForConnections(int n, absl::Duration timeout);
  int connections();  // accepted since Start

 private:
  TcpProxy(int listen_fd, std::string address, std::string backend);
  void AcceptLoop();
  void Serve(int client);

  const int listen_fd_;
  const std::string address_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::string backend_;               // guarded by mu_
  std::vector<int> fds_;              // open connections' sockets, guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_
  int accepted_ = 0;                  // guarded by mu_
  std::condition_variable accepted_cv_;
  std::thread acceptor_;
};

}  // namespace medvault::testing
