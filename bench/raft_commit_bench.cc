// Raft commit throughput, latency and failover time for a 3-replica group on this machine, next to
// the machine's own bound measured in the same run: synchronous (fsync'd) RocksDB writes from one
// writer. Replicas are real RaftNodes in one process (RocksDB on disk, gRPC over loopback).
//
//   build/bin/raft_commit_bench [--clients=1,8,32] [--seconds=5] [--value_bytes=512]
//                               [--failovers=5] [--dir=var/bench-raft]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/kv.h"
#include "raft/testing/local_group.h"

ABSL_FLAG(std::string, clients, "1,8,32", "Concurrent proposers per run, comma-separated");
ABSL_FLAG(int, seconds, 5, "Duration of each throughput run");
ABSL_FLAG(int, value_bytes, 512, "Bytes per replicated put (about a metaserver commit's size)");
ABSL_FLAG(int, failovers, 5, "Leader kills to time");
ABSL_FLAG(std::string, dir, "var/bench-raft", "Scratch directory on the disk under test (emptied)");
ABSL_FLAG(int64_t, tick_ms, 100, "Raft tick (the services' default is 100 ms)");

namespace {

using Clock = std::chrono::steady_clock;
using medvault::raft::testing::LocalGroup;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// The bound: one writer doing synchronous RocksDB writes of the same size.
double FsyncWritesPerSecond(const std::string& dir, int value_bytes, int seconds) {
  auto kv = medvault::KvStore::Open(dir + "/baseline", {"data"});
  if (!kv.ok()) {
    std::fprintf(stderr, "baseline: %s\n", kv.status().ToString().c_str());
    std::exit(1);
  }
  const std::string value(value_bytes, 'v');
  const Clock::time_point end = Clock::now() + std::chrono::seconds(seconds);
  const Clock::time_point start = Clock::now();
  uint64_t n = 0;
  while (Clock::now() < end) {
    rocksdb::WriteBatch batch;
    batch.Put((*kv)->cf("data"), "k" + std::to_string(n), value);
    if (!(*kv)->Write(&batch).ok()) std::exit(1);
    ++n;
  }
  return n / Seconds(Clock::now() - start);
}

// Proposers that always aim at the current leader; Stop() of a replica excludes them briefly.
class Load {
 public:
  Load(LocalGroup* group, int value_bytes) : group_(group), value_(value_bytes, 'v') {}

  // Runs `clients` proposers until Finish(); returns when they have started.
  void Begin(int clients) {
    running_ = true;
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c] { Run(c); });
    }
  }
  void Finish() {
    running_ = false;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  void StopReplica(uint64_t id) {
    Exclusive lock(this);
    group_->Stop(id);
  }
  void StartReplica(uint64_t id) {
    Exclusive lock(this);
    (void)group_->Start(id, /*bootstrap=*/false);
  }

  std::vector<double> TakeLatencies() {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return std::move(latencies_);
  }
  Clock::time_point last_commit() const {
    return Clock::time_point(Clock::duration(last_commit_.load()));
  }

 private:
  struct Exclusive {
    explicit Exclusive(Load* l) : load(l), lock((l->exclusive_wanted_ = true, l->mu_)) {
      load->exclusive_wanted_ = false;
    }
    Load* load;
    std::unique_lock<std::shared_mutex> lock;
  };

  void Run(int client) {
    uint64_t n = 0;
    uint64_t leader = 0;
    std::vector<double> mine;
    while (running_) {
      // glibc's rwlock favours readers: hold back while a replica is being stopped or started.
      if (exclusive_wanted_) {
        std::this_thread::yield();
        continue;
      }
      std::shared_lock<std::shared_mutex> lock(mu_);
      if (leader == 0 || !group_->running(leader) || !group_->node(leader).IsLeader()) {
        leader = 0;
        for (uint64_t id = 1; id <= 3; ++id) {
          if (group_->running(id) && group_->node(id).IsLeader()) leader = id;
        }
        if (leader == 0) {
          lock.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
      }
      const std::string key = "c" + std::to_string(client) + "-" + std::to_string(n++);
      const Clock::time_point start = Clock::now();
      absl::Status s = group_->Put(leader, key, value_, absl::Seconds(2));
      const Clock::time_point done = Clock::now();
      if (s.ok()) {
        mine.push_back(Seconds(done - start));
        last_commit_.store(done.time_since_epoch().count());
      } else {
        leader = 0;
      }
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    latencies_.insert(latencies_.end(), mine.begin(), mine.end());
  }

  LocalGroup* const group_;
  const std::string value_;
  std::atomic<bool> running_{false};
  std::atomic<bool> exclusive_wanted_{false};
  std::shared_mutex mu_;
  std::vector<std::thread> threads_;
  std::mutex stats_mu_;
  std::vector<double> latencies_;
  std::atomic<Clock::rep> last_commit_{0};
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // progress is visible when piped
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  const double bound = FsyncWritesPerSecond(dir, value_bytes, seconds);
  std::printf(
      "baseline: %.0f synchronous RocksDB writes/s (one writer, %d-byte values, fsync per write)\n",
      bound, value_bytes);

  medvault::raft::testing::LocalGroupOptions options;
  options.root = dir + "/group";
  options.tick = absl::Milliseconds(absl::GetFlag(FLAGS_tick_ms));
  LocalGroup group(options);
  if (group.WaitForLeader() == 0) {
    std::fprintf(stderr, "no leader elected\n");
    return 1;
  }
  Load load(&group, value_bytes);
  std::printf("%-8s %12s %10s %10s %10s\n", "clients", "commits/s", "x bound", "p50 ms", "p99 ms");
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int clients = 0;
    if (!absl::SimpleAtoi(c, &clients) || clients <= 0) continue;
    load.Begin(clients);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));  // a timed run, not a test wait
    load.Finish();
    std::vector<double> lat = load.TakeLatencies();
    const double rate = lat.size() / static_cast<double>(seconds);
    std::printf("%-8d %12.0f %10.2f %10.2f %10.2f\n", clients, rate, rate / bound,
                1000 * Percentile(lat, 0.5), 1000 * Percentile(lat, 0.99));
  }

  // Failover: stop the leader under load (4 proposers); time until a new leader commits.
  std::vector<double> windows;
  for (int i = 0; i < absl::GetFlag(FLAGS_failovers); ++i) {
    const uint64_t leader = group.WaitForLeader();
    load.Begin(4);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    load.StopReplica(leader);
    const Clock::time_point killed = Clock::now();
    while (load.last_commit() <= killed && Clock::now() - killed < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    windows.push_back(Seconds(load.last_commit() - killed));
    load.Finish();
    (void)load.TakeLatencies();
    load.StartReplica(leader);
    group.WaitFor([&] { return group.node(leader).Status().leader != 0; });
  }
  std::printf(
      "failover (leader stopped under load → next commit on a new leader), %zu trials: median %.2f "
      "s, "
      "max %.2f s, election timeout %lld-%lld ms\n",
      windows.size(), Percentile(windows, 0.5),
      windows.empty() ? 0 : *std::max_element(windows.begin(), windows.end()),
      static_cast<long long>(10 * absl::GetFlag(FLAGS_tick_ms)),
      static_cast<long long>(20 * absl::GetFlag(FLAGS_tick_ms)));
  return 0;
}
