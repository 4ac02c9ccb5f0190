// Runs independent work items on a few threads (put and get --study move files `--jobs` at a
// time).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace medvault::cli {

// Calls fn(i) for every i in [0, n), at most `jobs` calls at once, and returns when all are done.
// `fn` must be thread-safe across different i.
inline void ParallelFor(size_t n, int jobs, const std::function<void(size_t)>& fn) {
  size_t threads = std::min(n, static_cast<size_t>(std::max(jobs, 1)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& w : workers) w.join();
}

}  // namespace medvault::cli
