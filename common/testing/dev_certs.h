// Development certificates for tests, made by the same scripts/dev-certs the local cluster uses
// (openssl CLI, EC P-256), so tests exercise the certificates operators get. Test-only.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/tls.h"

namespace medvault::testing {

struct DevCertOptions {
  // Exact validity window of the issued certificates, "YYYYMMDDHHMMSSZ"; both empty: from now,
  // for the script's default lifetime. A window in the past makes expired certificates.
  std::string not_before;
  std::string not_after;
};

// Runs scripts/dev-certs: a CA in `dir` (made unless present) and, for each name, `dir`/NAME.crt
// and NAME.key (see the script for subjectAltNames and roles). INTERNAL if the script fails (its
// output goes to this process's stderr).
absl::Status MakeDevCerts(const std::string& dir, const std::vector<std::string>& names,
                          const DevCertOptions& options = {});

// The TlsFiles of `name` in a directory made by MakeDevCerts.
TlsFiles DevTlsFiles(const std::string& dir, const std::string& name);

}  // namespace medvault::testing
