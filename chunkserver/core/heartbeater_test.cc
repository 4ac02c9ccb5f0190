#include "chunkserver/core/heartbeater.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/env.h"
#include "common/testing/fault_fs.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

using ::medvault::testing::FaultInjectingFilesystem;
using ::medvault::testing::TempDir;

// Records heartbeats; tests wait on the count (with a generous real-time bound so a broken
// heartbeater fails the test instead of hanging it).
class FakeSender {
 public:
  absl::Status Send(const v1::ChunkServerInfo& info) {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(info);
    absl::Status result = results_.empty() ? absl::OkStatus() : results_.front();
    if (!results_.empty()) results_.erase(results_.begin());
    cv_.notify_all();
    return result;
  }

  void QueueResults(std::vector<absl::Status> results) {
    std::lock_guard<std::mutex> lock(mu_);
    results_ = std::move(results);
  }

  bool WaitForCount(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return sent_.size() >= n; });
  }

  std::vector<v1::ChunkServerInfo> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

  HeartbeatSender AsSender() {
    return [this](const v1::ChunkServerInfo& info) { return Send(info); };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::ChunkServerInfo> sent_;
  std::vector<absl::Status> results_;
};

class HeartbeaterTest : public ::testing::Test {
 protected:
  HeartbeaterTest() : fs_(DefaultFilesystem()), store_(&fs_, &clock_, dir_.path()) {}
  void SetUp() override { ASSERT_TRUE(store_.Open().ok()); }

  HeartbeaterOptions Options(absl::Duration interval) {
    return HeartbeaterOptions{"0123456789abcdef0123456789abcdef", "10.0.0.7:7001", "rack-a",
                              interval};
  }

  TempDir dir_;
  FakeClock clock_;
  FaultInjectingFilesystem fs_;
  FileChunkStore store_;
  FakeSender sender_;
};

TEST_F(HeartbeaterTest, FirstHeartbeatImmediatelyWithServerInfo) {
  const std::string data = "abc";
  ASSERT_TRUE(store_.Write(std::string(kChunkIdBytes, '\x01'), data, Crc32c(data)).ok());
  ASSERT_TRUE(store_.Write(std::string(kChunkIdBytes, '\x02'), data, Crc32c(data)).ok());
  fs_.SetSpaceLeft(777'000);
  // An hour's interval: only the immediate first heartbeat can arrive within the test.
  Heartbeater heartbeater(&store_, Options(absl::Hours(1)), sender_.AsSender());
  heartbeater.Start();
  ASSERT_TRUE(sender_.WaitForCount(1));
  heartbeater.Stop();
  std::vector<v1::ChunkServerInfo> sent = sender_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].server_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(sent[0].address(), "10.0.0.7:7001");
  EXPECT_EQ(sent[0].failure_domain(), "rack-a");
  EXPECT_EQ(sent[0].chunk_count(), 2u);
  EXPECT_EQ(sent[0].free_bytes(), 777'000u);
  EXPECT_GT(sent[0].capacity_bytes(), 0u);
}

TEST_F(HeartbeaterTest, StopWakesTheThreadAtOnce) {
  Heartbeater heartbeater(&store_, Options(absl::Hours(1)), sender_.AsSender());
  heartbeater.Start();
  ASSERT_TRUE(sender_.WaitForCount(1));
  const auto start = std::chrono::steady_clock::now();
  heartbeater.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  heartbeater.Stop();  // idempotent
}

TEST_F(HeartbeaterTest, SendsRepeatedlyAndReflectsNewChunks) {
  Heartbeater heartbeater(&store_, Options(absl::Milliseconds(1)), sender_.AsSender());
  heartbeater.Start();
  ASSERT_TRUE(sender_.WaitForCount(2));
  const std::string data = "abc";
  ASSERT_TRUE(store_.Write(std::string(kChunkIdBytes, '\x03'), data, Crc32c(data)).ok());
  const size_t before = sender_.sent().size();
  ASSERT_TRUE(sender_.WaitForCount(before + 2));
  heartbeater.Stop();
  EXPECT_EQ(sender_.sent().back().chunk_count(), 1u);
}

TEST_F(HeartbeaterTest, KeepsSendingThroughFailuresAndLogsOncePerStateChange) {
  sender_.QueueResults({absl::UnavailableError("down"), absl::UnavailableError("down"),
                        absl::UnavailableError("down"), absl::OkStatus(), absl::OkStatus(),
                        absl::UnavailableError("down again")});
  ::testing::internal::CaptureStderr();
  {
    Heartbeater heartbeater(&store_, Options(absl::Milliseconds(1)), sender_.AsSender());
    heartbeater.Start();
    ASSERT_TRUE(sender_.WaitForCount(8));
    heartbeater.Stop();
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count("heartbeat to the metaserver failing"), 2) << log;
  EXPECT_EQ(count("heartbeat to the metaserver succeeding again"), 2) << log;
}

}  // namespace
}  // namespace medvault::chunkserver
