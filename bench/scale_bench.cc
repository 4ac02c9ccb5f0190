// The scale benchmark's medvault side (bench/scale): grows the metaserver's index to --checkpoints
// (e.g. 1M instances) through MetaService.CommitInstance, metadata only, and at each checkpoint
// pauses ingest and measures FindStudies latency for every query shape the API supports.
//
//   scale_bench --metaserver=a,b,c --tls_dir=DATA/tls [--frontend=ADDR] [--concurrency=32]
//               [--checkpoints=10000,25000,...] [--max=N] [--queries=200] [--json_out=F]
//               [--watch_pids=P,P,P --watch_dirs=D,D,D]
//   scale_bench --dump_tags=N        the first N instances' tags and some queries, then exit
//
// Metadata only: no chunk bytes exist. Each instance is committed with a manifest of one chunk
// (random 16-byte object and chunk ids, server ids of the registered chunk servers), so the
// metaserver's repair must be off for the run (it would try to restore every replica); see
// docs/benchmarks.md. Commits use the cluster's "frontend" certificate, the only role allowed to
// commit, and follow the Raft leader. FindStudies is measured on the metaserver group directly
// and, with --frontend, through the public ImageStore API with the "client" certificate.
// Prints one JSON line per checkpoint (also appended to --json_out) and a markdown table.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "bench/scale_clients.h"
#include "bench/scale_data.h"
#include "bench/stats.h"

ABSL_FLAG(std::string, metaserver, "",
          "metaserver group: comma-separated host:port of every replica");
ABSL_FLAG(std::string, frontend, "",
          "frontend host:port; when set, FindStudies is also measured "
          "through the public API");
ABSL_FLAG(std::string, tls_dir, "", "a cluster's DATA/tls (ca.crt, frontend.*, client.*)");
ABSL_FLAG(std::string, checkpoints, "10000,25000,50000,100000,250000,500000,1000000",
          "instance counts at which ingest pauses and queries are measured");
ABSL_FLAG(uint64_t, max, 0,
          "stop at this many instances (a checkpoint too); 0: the last checkpoint");
ABSL_FLAG(int, concurrency, 32, "concurrent CommitInstance calls");
ABSL_FLAG(int, queries, 200, "FindStudies calls per query shape per checkpoint");
ABSL_FLAG(uint32_t, page_size, 100, "studies per FindStudies page (Orthanc's Limit)");
ABSL_FLAG(uint64_t, seed, 1,
          "dataset seed (>= 1); the same seed gives the same studies as scale_orthanc.py");
ABSL_FLAG(std::string, json_out, "", "append one JSON line per checkpoint to this file");
ABSL_FLAG(std::string, watch_pids, "", "metaserver pids whose RSS is recorded at each checkpoint");
ABSL_FLAG(std::string, watch_dirs, "", "metaserver data directories whose size is recorded");
ABSL_FLAG(uint64_t, dump_tags, 0, "print the first N instances' tags and queries, then exit");

namespace medvault::bench::scale {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<uint64_t> Checkpoints() {
  std::vector<uint64_t> out;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_checkpoints), ',', absl::SkipEmpty())) {
    uint64_t n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) out.push_back(n);
  }
  const uint64_t max = absl::GetFlag(FLAGS_max);
  if (max > 0) {
    out.erase(std::remove_if(out.begin(), out.end(), [max](uint64_t n) { return n > max; }),
              out.end());
    out.push_back(max);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string QueryText(const v1::StudyQuery& q) {
  return absl::StrFormat("patient_id=%s study_date_from=%s study_date_to=%s modality=%s",
                         q.patient_id(), q.study_date_from(), q.study_date_to(), q.modality());
}

// The same lines as `scale_orthanc.py dump N`, so the two can be compared with diff.
void DumpTags(const Dataset& data, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    const v1::InstanceTags t = data.Tags(i);
    std::printf("%s\n", absl::StrJoin({t.patient_id(), t.patient_name(), t.patient_birth_date(),
                                       t.patient_sex(), t.study_uid(), t.study_date(),
                                       t.study_time(), t.study_description(), t.accession_number(),
                                       t.series_uid(), t.modality(), t.series_description(),
                                       std::to_string(t.series_number()), t.sop_instance_uid(),
                                       t.sop_class_uid(), std::to_string(t.instance_number())},
                                      "\t")
                            .c_str());
  }
  const uint64_t studies = data.StudiesCovering(n);
  for (int shape = 0; shape < 4; ++shape) {
    for (uint64_t j = 0; j < 5; ++j) {
      std::printf("query %s %llu: %s\n", kQueryShapes[shape], static_cast<unsigned long long>(j),
                  QueryText(MakeQuery(data.seed(), shape, n, studies, j, 0)).c_str());
    }
  }
}

struct IngestFigures {
  uint64_t ok = 0, already = 0, failed = 0;
  double seconds = 0;
  LatencySummary commit;
  std::string first_error;
};

// Commits instances [from, to) with `concurrency` workers; prints progress every 10 s.
IngestFigures Ingest(MetaGroupClient& meta, const Dataset& data,
                     const std::vector<std::string>& servers, uint64_t from, uint64_t to,
                     int concurrency) {
  std::atomic<uint64_t> next{from}, ok{0}, already{0}, failed{0};
  std::atomic<int> running{concurrency};
  absl::Notification all_done;
  std::vector<std::vector<double>> latencies(concurrency);
  std::vector<std::string> errors(concurrency);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      for (uint64_t n; (n = next.fetch_add(1)) < to;) {
        const v1::InstanceTags tags = data.Tags(n);
        const Clock::time_point t0 = Clock::now();
        absl::StatusOr<bool> stored = meta.Commit(tags, data.Digest(n), servers);
        latencies[w].push_back(Since(t0) * 1e3);
        if (!stored.ok()) {
          ++failed;
          if (errors[w].empty()) errors[w] = stored.status().ToString();
        } else {
          ++(*stored ? already : ok);
        }
      }
      if (--running == 0) all_done.Notify();
    });
  }
  while (!all_done.WaitForNotificationWithTimeout(absl::Seconds(10))) {
    const uint64_t done = ok + already + failed;
    std::fprintf(stderr,
                 "scale_bench: %llu instances committed, %.1f/s since the last checkpoint\n",
                 static_cast<unsigned long long>(from + done), done / Since(start));
  }
  for (std::thread& t : workers) t.join();
  IngestFigures f;
  f.seconds = Since(start);
  f.ok = ok;
  f.already = already;
  f.failed = failed;
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  f.commit = Summarize(std::move(all));
  for (const std::string& e : errors) {
    if (!e.empty()) {
      f.first_error = e;
      break;
    }
  }
  return f;
}

struct ShapeFigures {
  LatencySummary latency;
  double mean_results = 0;
  uint64_t failed = 0;
};

// `find` runs one query and returns the number of studies on the page.
template <typename Find>
ShapeFigures MeasureShape(const Dataset& data, int shape, uint64_t instances, int queries,
                          uint32_t page_size, Find find) {
  const uint64_t studies = data.StudiesCovering(instances);
  std::vector<double> ms;
  uint64_t results = 0;
  ShapeFigures f;
  for (int j = 0; j < queries; ++j) {
    const v1::StudyQuery q = MakeQuery(data.seed(), shape, instances, studies, j, page_size);
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<int> n = find(q);
    const double elapsed = Since(t0) * 1e3;
    if (!n.ok()) {
      if (f.failed++ == 0) std::cerr << "scale_bench: FindStudies failed: " << n.status() << "\n";
      continue;
    }
    ms.push_back(elapsed);
    results += *n;
  }
  f.latency = Summarize(std::move(ms));
  f.mean_results = f.latency.count == 0 ? 0 : static_cast<double>(results) / f.latency.count;
  return f;
}

std::string ShapesJson(const std::vector<ShapeFigures>& shapes) {
  std::vector<std::string> parts;
  for (size_t s = 0; s < shapes.size(); ++s) {
    parts.push_back(absl::StrFormat(
        R"("%s":{"p50_ms":%.3f,"p99_ms":%.3f,"mean_results":%.4f,"failed":%d})", kQueryShapes[s],
        shapes[s].latency.p50, shapes[s].latency.p99, shapes[s].mean_results, shapes[s].failed));
  }
  return "{" + absl::StrJoin(parts, ",") + "}";
}

int Main() {
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) {
    std::cerr << "scale_bench: --seed must be at least 1\n";
    return 2;
  }
  Dataset data(seed);
  if (const uint64_t n = absl::GetFlag(FLAGS_dump_tags); n > 0) {
    data.Reserve(n);
    DumpTags(data, n);
    return 0;
  }
  const std::vector<uint64_t> checkpoints = Checkpoints();
  if (checkpoints.empty() || absl::GetFlag(FLAGS_metaserver).empty() ||
      absl::GetFlag(FLAGS_tls_dir).empty()) {
    std::cerr << "scale_bench: --metaserver, --tls_dir and at least one checkpoint are required\n";
    return 2;
  }
  data.Reserve(checkpoints.back());

  absl::StatusOr<std::unique_ptr<MetaGroupClient>> meta =
      MetaGroupClient::Connect(absl::GetFlag(FLAGS_metaserver), absl::GetFlag(FLAGS_tls_dir));
  if (!meta.ok()) {
    std::cerr << "scale_bench: " << meta.status() << "\n";
    return 1;
  }
  std::unique_ptr<FrontendClient> frontend;
  if (!absl::GetFlag(FLAGS_frontend).empty()) {
    absl::StatusOr<std::unique_ptr<FrontendClient>> f =
        FrontendClient::Connect(absl::GetFlag(FLAGS_frontend), absl::GetFlag(FLAGS_tls_dir));
    if (!f.ok()) {
      std::cerr << "scale_bench: " << f.status() << "\n";
      return 1;
    }
    frontend = std::move(*f);
  }
  absl::StatusOr<std::vector<std::string>> servers = (*meta)->ChunkServerIds();
  if (!servers.ok()) {
    std::cerr << "scale_bench: listing chunk servers: " << servers.status() << "\n";
    return 1;
  }
  const ProcessWatch watch(absl::GetFlag(FLAGS_watch_pids), absl::GetFlag(FLAGS_watch_dirs));
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const int queries = std::max(1, absl::GetFlag(FLAGS_queries));
  const uint32_t page_size = absl::GetFlag(FLAGS_page_size);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);

  std::vector<std::string> rows;
  uint64_t done = 0, failures = 0;
  for (uint64_t target : checkpoints) {
    IngestFigures in = Ingest(**meta, data, *servers, done, target, concurrency);
    failures += in.failed;
    if (!in.first_error.empty())
      std::cerr << "scale_bench: first commit error: " << in.first_error << "\n";
    std::vector<ShapeFigures> via_meta, via_frontend;
    for (int shape = 0; shape < 4; ++shape) {
      via_meta.push_back(MeasureShape(data, shape, target, queries, page_size,
                                      [&](const v1::StudyQuery& q) { return (*meta)->Find(q); }));
      if (frontend) {
        via_frontend.push_back(
            MeasureShape(data, shape, target, queries, page_size,
                         [&](const v1::StudyQuery& q) { return frontend->Find(q); }));
      }
    }
    for (const auto* shapes : {&via_meta, &via_frontend}) {
      for (const ShapeFigures& s : *shapes) failures += s.failed;
    }
    const WatchFigures w = watch.Sample();
    const double per_s = (in.ok + in.already) / in.seconds;
    std::string line = absl::StrFormat(
        R"({"system":"medvault","instances":%d,"studies":%d,"interval_instances":%d,"interval_seconds":%.3f,)"
        R"("per_s":%.2f,"commit_p50_ms":%.3f,"commit_p99_ms":%.3f,"ok":%d,"already_stored":%d,"failed":%d,)"
        R"("concurrency":%d,"queries":%d,"page_size":%d,"rss_mb":%.1f,"data_mb":%.1f,"load_average":%.2f,)"
        R"("find_meta":%s)",
        target, data.StudiesCovering(target), target - done, in.seconds, per_s, in.commit.p50,
        in.commit.p99, in.ok, in.already, in.failed, concurrency, queries, page_size, w.max_rss_mb,
        w.max_dir_mb, w.load_average, ShapesJson(via_meta));
    if (frontend) line += ",\"find\":" + ShapesJson(via_frontend);
    line += "}";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    AppendLine(json_out, line);
    const std::vector<ShapeFigures>& shown = frontend ? via_frontend : via_meta;
    std::string row =
        absl::StrFormat("| %d | %d | %.1f | %.1f / %.1f |", target, data.StudiesCovering(target),
                        per_s, in.commit.p50, in.commit.p99);
    for (const ShapeFigures& s : shown)
      absl::StrAppendFormat(&row, " %.2f / %.2f |", s.latency.p50, s.latency.p99);
    absl::StrAppendFormat(&row, " %.0f | %.0f |", w.max_rss_mb, w.max_dir_mb);
    rows.push_back(row);
    done = target;
  }

  std::printf("\nFindStudies %s, page size %u, %d queries per shape; latencies p50 / p99 in ms\n\n",
              frontend ? "through the frontend (public API)" : "on the metaserver group", page_size,
              queries);
  std::printf(
      "| instances | studies | ingest/s | commit ms | patient | date range | modality | all | "
      "RSS MB | data MB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& r : rows) std::printf("%s\n", r.c_str());
  if (failures > 0)
    std::fprintf(stderr, "scale_bench: %llu calls failed\n",
                 static_cast<unsigned long long>(failures));
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace medvault::bench::scale

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return medvault::bench::scale::Main();
}
