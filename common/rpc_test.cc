// Channel plumbing: how soon a medvault channel tries again to reach a peer that went away.
#include "common/rpc.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/tls.h"

namespace medvault {
namespace {

using Clock = std::chrono::steady_clock;

// A Raft replica restarted after a while down must be reachable by its peers at once. gRPC's
// default reconnect backoff grows to 120 s (1 s, 1.6 s, 2.6 s, 4.1 s, ... apart), which kept a
// restarted metaserver out of its group for up to 20 s in tests/raft_failover_test. A peer that
// accepts and drops every connection shows when the channel tries: never more than ~1 s apart.
TEST(DefaultChannelArguments, ReconnectAttemptsStayAboutASecondApart) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(listener, 16), 0);

  std::mutex mu;
  std::vector<Clock::time_point> attempts;
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    while (!stop) {
      pollfd p{listener, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      {
        std::lock_guard<std::mutex> lock(mu);
        attempts.push_back(Clock::now());
      }
      ::close(fd);  // a peer that is not (yet) serving
    }
  });

  auto channel = MakeChannel(absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)),
                             TransportSecurity::InsecurePlaintext(), "");
  // Six seconds: with gRPC's default backoff the attempts would be 2.6 s and then 4.1 s apart.
  const auto end = Clock::now() + std::chrono::seconds(6);
  while (Clock::now() < end) {
    channel->GetState(/*try_to_connect=*/true);  // a caller that keeps wanting the peer
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  peer.join();
  ::close(listener);

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(attempts.size(), 2u);
  double widest = 0;
  for (size_t i = 1; i < attempts.size(); ++i) {
    widest = std::max(widest, std::chrono::duration<double>(attempts[i] - attempts[i - 1]).count());
  }
  // 1 s maximum backoff plus gRPC's 20% jitter, plus slack for a busy machine.
  EXPECT_LT(widest, 2.0) << attempts.size() << " attempts";
  EXPECT_GE(attempts.size(), 4u);
}

}  // namespace
}  // namespace medvault
