// Reading a service's Prometheus /metrics endpoint from a test: one plain HTTP/1.0 GET, and the
// value of one unlabelled series from the text it returns.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::testing {

// GET `path` from host:port; the raw response (status line, headers, body), or "" when the
// connection fails or nothing arrives within two seconds.
std::string HttpGet(const std::string& host_port, const std::string& path);

// The value of the unlabelled series `name` in Prometheus text format; NOT_FOUND when absent.
absl::StatusOr<double> MetricValue(absl::string_view metrics_text, absl::string_view name);

// HttpGet of host:port/metrics and MetricValue of `name`; UNAVAILABLE when nothing was served.
absl::StatusOr<double> ScrapeMetric(const std::string& host_port, absl::string_view name);

// The calls of gRPC method `method` (e.g. "PutInstance") the frontend at host:port has answered,
// whatever their result: the sum of medvault_frontend_requests_total{method="..."} series.
double FrontendRequests(const std::string& host_port, absl::string_view method);

}  // namespace medvault::testing
