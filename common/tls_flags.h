// The --tls_ca/--tls_cert/--tls_key/--insecure_plaintext flags every service binary takes, defined
// once here.
#pragma once

#include "absl/status/statusor.h"
#include "common/env.h"
#include "common/tls.h"

namespace medvault {

// The transport security those flags choose (see ChooseTransportSecurity).
absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(Filesystem* fs);

}  // namespace medvault
