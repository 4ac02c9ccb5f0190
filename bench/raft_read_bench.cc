// Linearizable read latency on a 3-replica group's leader (RaftNode::ReadBarrier): a ReadIndex
// round per read against leader-lease reads, in alternating rounds of one process so the ratio
// holds on a noisy machine. Replicas are real RaftNodes (RocksDB on disk, gRPC over loopback); a
// writer commits beside the readers, as the metaserver's ingest does beside its lookups.
//
//   build/bin/raft_read_bench [--rounds=3] [--reads=2000] [--readers=1,8] [--dir=var/bench-read]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "raft/testing/local_group.h"

ABSL_FLAG(int, rounds, 3, "Alternating rounds of each mode");
ABSL_FLAG(int, reads, 2000, "Reads per reader per round");
ABSL_FLAG(std::string, readers, "1,8", "Concurrent readers, comma-separated");
ABSL_FLAG(std::string, dir, "var/bench-read", "Scratch directory (emptied)");

namespace {

using Clock = std::chrono::steady_clock;
using medvault::raft::testing::LocalGroup;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Microseconds of each read by `readers` threads on a fresh group, with one writer running.
std::vector<double> Run(const std::string& dir, bool lease, int readers, int reads) {
  medvault::raft::testing::LocalGroupOptions options;
  options.root = dir;
  options.tick = absl::Milliseconds(100);  // the services' default
  options.lease_reads = lease;
  LocalGroup group(options);
  const uint64_t leader = group.WaitForLeader();
  if (leader == 0 || !group.Put(leader, "warm", "x").ok()) {
    std::fprintf(stderr, "no leader\n");
    std::exit(1);
  }
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t n = 0; !done; ++n) (void)group.Put(leader, "w" + std::to_string(n), "v");
  });
  std::vector<std::vector<double>> each(readers);
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      for (int i = 0; i < reads; ++i) {
        const Clock::time_point start = Clock::now();
        if (!group.node(leader).ReadBarrier(absl::Seconds(5)).ok()) continue;
        each[r].push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  writer.join();
  std::vector<double> all;
  for (auto& v : each) all.insert(all.end(), v.begin(), v.end());
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  std::printf("%-6s %-8s %-10s %8s %8s %8s\n", "round", "readers", "mode", "p50 us", "p90 us",
              "p99 us");
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_readers), ',')) {
    int readers = 0;
    if (!absl::SimpleAtoi(c, &readers) || readers <= 0) continue;
    std::vector<double> p50[2];
    for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
      for (bool lease : {false, true}) {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        const std::vector<double> ms = Run(dir, lease, readers, absl::GetFlag(FLAGS_reads));
        p50[lease].push_back(Percentile(ms, 0.5));
        std::printf("%-6d %-8d %-10s %8.1f %8.1f %8.1f\n", round, readers,
                    lease ? "lease" : "readindex", Percentile(ms, 0.5), Percentile(ms, 0.9),
                    Percentile(ms, 0.99));
      }
    }
    for (size_t i = 0; i < p50[0].size(); ++i) {
      std::printf("readers %d round %zu: lease p50 / readindex p50 = %.4f\n", readers, i + 1,
                  p50[1][i] / p50[0][i]);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
