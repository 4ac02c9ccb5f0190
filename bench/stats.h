// Latency figures of the benchmark programs (load_gen, scale_bench), computed the same way as
// http_load.py's for Orthanc: nearest-rank percentiles in milliseconds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace medvault::bench {

// The p-quantile (0..1) of ascending `sorted`; 0 when empty.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

inline LatencySummary Summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  LatencySummary s;
  s.count = values.size();
  s.p50 = Percentile(values, 0.50);
  s.p90 = Percentile(values, 0.90);
  s.p99 = Percentile(values, 0.99);
  s.max = values.empty() ? 0 : values.back();
  return s;
}

// Appends `line` and a newline to `path` (bench/run's and bench/scale's JSON lines); no-op when
// `path` is empty.
inline void AppendLine(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

}  // namespace medvault::bench
