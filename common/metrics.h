// Prometheus metrics: one registry per process, exposed on /metrics by prometheus-cpp's exposer.
// Names follow medvault_<service>_<what>_<unit>.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace medvault {

class MetricsEndpoint {
 public:
  MetricsEndpoint() : registry_(std::make_shared<prometheus::Registry>()) {}

  // Serves the registry on `address` (host:port, port 0 picks one). Without a call, metrics are
  // still recorded (tests read them from registry()).
  absl::Status Serve(const std::string& address);

  prometheus::Registry& registry() { return *registry_; }
  // host:port actually bound, or empty.
  const std::string& bound_address() const { return bound_address_; }

  // For process shutdown only: stops owning the HTTP endpoint without stopping it. Stopping
  // civetweb waits about a second for its poll loop; at exit the OS closes the socket anyway.
  void AbandonAtExit() { (void)exposer_.release(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string bound_address_;
};

// Latency buckets in seconds, 100 µs .. 30 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

// Shorthands for a metric family with a single unlabelled series.
prometheus::Counter& NewCounter(prometheus::Registry& r, const std::string& name,
                                const std::string& help);
prometheus::Gauge& NewGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help);
prometheus::Histogram& NewLatencyHistogram(prometheus::Registry& r, const std::string& name,
                                           const std::string& help);

}  // namespace medvault
