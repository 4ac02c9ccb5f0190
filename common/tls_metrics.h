// The expiry of the certificates a service process serves with, as Prometheus gauges, so an alert
// fires before a handshake fails (issue 17). Every service exports them through ServiceRunner.
#pragma once

#include <prometheus/registry.h>

#include "absl/strings/string_view.h"
#include "common/tls.h"

namespace medvault {

// Registers medvault_<service>_tls_certificate_expiry_timestamp_seconds in `registry`, one series
// per certificate: {certificate="own"} (this process's) and {certificate="ca"} (the first one in
// its CA file), each its notAfter in seconds since the Unix epoch. Registers nothing without TLS.
void ExportCertificateExpiry(absl::string_view service, const TransportSecurity& security,
                             prometheus::Registry& registry);

}  // namespace medvault
