// Chunk durability figures for docs/benchmarks.md, in one run: this machine's disk write bandwidth
// (1 MiB O_DIRECT writes then fdatasync, in the cluster's directory), then a cluster of the real
// binaries (1 metaserver, 1 key service, --chunkservers chunk servers, the production down
// interval unless told otherwise) loaded with --instances copies of --template, then kill -9 of
// one chunk server: the time until the metaserver declares it down, and the repair throughput
// (medvault_metaserver_repair_bytes_total over the time from the first repaired byte until the
// under-replicated gauge is back to 0).
//
//   build/bin/repair_bench --template /tmp/ct/slice_0001.dcm --instances 300
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"

ABSL_FLAG(std::string, template_file, "",
          "A DICOM file to store copies of (bench/gen_dicom.py ct makes 0.5 MB slices)");
ABSL_FLAG(int, instances, 300, "Copies to store before the kill");
ABSL_FLAG(int, chunkservers, 4, "Chunk servers (one is killed; R=3 needs at least 4 to repair)");
ABSL_FLAG(int64_t, down_after_ms, 10000,
          "The metaserver's down interval (production default 10 s)");
ABSL_FLAG(uint64_t, repair_bytes_per_second, 0,
          "The metaserver's repair rate limit (0: unlimited)");
ABSL_FLAG(int, repair_parallelism, 4, "The metaserver's concurrent repair copies");
ABSL_FLAG(int, disk_mb, 512, "MiB written to measure the disk");

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "repair_bench: %s\n", message.c_str());
  std::exit(1);
}

// MB/s of `mb` MiB written with O_DIRECT in 1 MiB writes, then fdatasync, to a file in `dir`.
double DiskWriteMBps(const std::string& dir, int mb) {
  const std::string path = dir + "/disk_bench.tmp";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  if (fd < 0) Die("cannot open " + path + " with O_DIRECT");
  void* buf = nullptr;
  if (posix_memalign(&buf, 4096, 1 << 20) != 0) Die("posix_memalign");
  for (size_t i = 0; i < (1u << 20); ++i)
    static_cast<unsigned char*>(buf)[i] = static_cast<unsigned char>(rand());
  const auto start = Clock::now();
  for (int i = 0; i < mb; ++i) {
    if (::write(fd, buf, 1 << 20) != (1 << 20)) Die("disk write failed");
  }
  if (::fdatasync(fd) != 0) Die("fdatasync failed");
  const double seconds = Since(start);
  ::close(fd);
  ::unlink(path.c_str());
  free(buf);
  return mb * 1.048576 / seconds;
}

double MustMetric(const medvault::testing::ExternalCluster& cluster, const std::string& name,
                  const std::string& m) {
  absl::StatusOr<double> v = cluster.Metric(name, m);
  if (!v.ok()) Die(v.status().ToString());
  return *v;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string template_file = absl::GetFlag(FLAGS_template_file);
  if (template_file.empty()) Die("--template_file is required");
  std::ifstream in(template_file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  medvault::testing::DicomInstanceFactory factory(ss.str());

  medvault::testing::ClusterOptions options;
  options.chunkservers = absl::GetFlag(FLAGS_chunkservers);
  options.metaserver_flags = {
      absl::StrCat("--down_after_ms=", absl::GetFlag(FLAGS_down_after_ms)),
      "--repair_interval_ms=500",
      absl::StrCat("--repair_bytes_per_second=", absl::GetFlag(FLAGS_repair_bytes_per_second)),
      absl::StrCat("--repair_parallelism=", absl::GetFlag(FLAGS_repair_parallelism))};
  medvault::testing::ExternalCluster cluster(options);
  if (absl::Status s = cluster.Start(); !s.ok()) Die(s.ToString());

  const double disk = DiskWriteMBps(cluster.root(), absl::GetFlag(FLAGS_disk_mb));
  std::printf("disk write bandwidth (O_DIRECT 1 MiB writes + fdatasync): %.0f MB/s\n", disk);

  // Load: 4 client threads.
  std::atomic<int> next{0}, acked{0};
  std::vector<std::thread> threads;
  const int n = absl::GetFlag(FLAGS_instances);
  const auto load_start = Clock::now();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto stub = medvault::v1::ImageStore::NewStub(
          cluster.Channel(cluster.frontend(), medvault::kFrontendPeer));
      for (int i = next++; i < n; i = next++) {
        absl::StatusOr<std::string> bytes = factory.WithSopInstanceUid(
            absl::StrCat("1.2.826.0.1.3680043.8.498.77.", getpid(), ".", i + 1));
        if (bytes.ok() && medvault::testing::PutInstance(stub.get(), *bytes).ok()) ++acked;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("stored %d of %d instances in %.1f s\n", acked.load(), n, Since(load_start));
  const double stored_bytes =
      MustMetric(cluster, "chunkserver-0", "medvault_chunkserver_write_bytes_total");

  const double bytes_before =
      MustMetric(cluster, "metaserver", "medvault_metaserver_repair_bytes_total");
  const auto killed = Clock::now();
  if (absl::Status s = cluster.Kill("chunkserver-0"); !s.ok()) Die(s.ToString());
  while (MustMetric(cluster, "metaserver", "medvault_metaserver_chunkservers_down") < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double detection = Since(killed);
  std::printf("kill -9 to detection: %.2f s (--down_after_ms=%lld)\n", detection,
              static_cast<long long>(absl::GetFlag(FLAGS_down_after_ms)));

  // Repair: from the first repaired byte until the census finds nothing under-replicated.
  Clock::time_point first_byte{};
  bool started = false;
  for (;;) {
    const double bytes =
        MustMetric(cluster, "metaserver", "medvault_metaserver_repair_bytes_total") - bytes_before;
    if (!started && bytes > 0) {
      started = true;
      first_byte = Clock::now();
    }
    if (started &&
        MustMetric(cluster, "metaserver", "medvault_metaserver_repair_queue_length") == 0 &&
        MustMetric(cluster, "metaserver", "medvault_metaserver_chunks_under_replicated") == 0) {
      break;
    }
    if (Since(killed) > 600) Die("repair did not finish within 10 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = Since(first_byte);
  const double repaired =
      MustMetric(cluster, "metaserver", "medvault_metaserver_repair_bytes_total") - bytes_before;
  std::printf(
      "repaired %.1f MB (the killed server held %.1f MB) in %.2f s: %.0f MB/s = %.2f x disk "
      "bandwidth\n",
      repaired / 1e6, stored_bytes / 1e6, seconds, repaired / 1e6 / seconds,
      repaired / 1e6 / seconds / disk);
  std::printf("kill to fully replicated: %.2f s\n", Since(killed));
  (void)cluster.Stop();
  return 0;
}
