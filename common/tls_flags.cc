#include "common/tls_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA that signs every medvault certificate");
ABSL_FLAG(std::string, tls_cert, "", "PEM file of this service's certificate (mutual TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM file of this service's private key (mutual TLS)");
ABSL_FLAG(bool, insecure_plaintext, false,
          "Serve and dial plaintext gRPC instead of mutual TLS (tests only; never with real data)");

namespace medvault {

absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(Filesystem* fs) {
  return ChooseTransportSecurity(
      fs,
      TlsFiles{absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
               absl::GetFlag(FLAGS_tls_key)},
      absl::GetFlag(FLAGS_insecure_plaintext));
}

}  // namespace medvault
