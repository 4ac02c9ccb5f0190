// Waiting for a DICOM peer a test started (DCMTK's storescp, Orthanc, a DICOM TLS destination) to
// be ready: until it answers DCMTK's echoscu, bounded by a deadline rather than a count of tries
// (a try takes as long as the peer makes it, so a count bounds nothing).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace medvault::testing {

// Calls `ready` until it returns true (true) or `timeout` has passed since the first call
// (false); at least one call is made. Between calls it waits 20 ms.
bool WaitUntil(const std::function<bool()>& ready, absl::Duration timeout);

// WaitUntil `/usr/bin/echoscu` with `args` (e.g. {"-aec", "DEST", "127.0.0.1", "11112"}, TLS
// options included) exits 0.
bool WaitForEcho(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(60));

}  // namespace medvault::testing
