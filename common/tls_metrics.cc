#include "common/tls_metrics.h"

#include <prometheus/gauge.h>

#include "absl/strings/str_cat.h"

namespace medvault {

void ExportCertificateExpiry(absl::string_view service, const TransportSecurity& security,
                             prometheus::Registry& registry) {
  if (!security.is_tls()) return;
  auto& family =
      prometheus::BuildGauge()
          .Name(absl::StrCat("medvault_", service, "_tls_certificate_expiry_timestamp_seconds"))
          .Help(
              "When the certificate this process serves with stops being valid "
              "(notAfter), seconds since the Unix epoch; read at start")
          .Register(registry);
  family.Add({{"certificate", "own"}}).Set(static_cast<double>(security.certificate_not_after()));
  family.Add({{"certificate", "ca"}}).Set(static_cast<double>(security.ca_not_after()));
}

}  // namespace medvault
