#include "common/metrics.h"

#include "absl/strings/str_cat.h"

namespace medvault {

absl::Status MetricsEndpoint::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  auto ports = exposer_->GetListeningPorts();
  std::string host = address.substr(0, address.rfind(':'));
  bound_address_ = absl::StrCat(host, ":", ports.empty() ? 0 : ports.front());
  return absl::OkStatus();
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
  return *b;
}

prometheus::Counter& NewCounter(prometheus::Registry& r, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& NewGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Histogram& NewLatencyHistogram(prometheus::Registry& r, const std::string& name,
                                           const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, LatencyBuckets());
}

}  // namespace medvault
