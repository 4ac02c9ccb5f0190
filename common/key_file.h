// Reading a 256-bit key (a master key, a backup key) from a file an operator protects: the one
// loader, so every key file follows the same rules.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"

namespace medvault {

// Reads a 256-bit key from `path`. The file holds either exactly 32 raw bytes, or 64 hex characters
// optionally followed by one '\n'. Its permission bits must be exactly 0600 or 0400 (no access for
// group or others). FAILED_PRECONDITION when the file is missing, unreadable, not a regular file,
// too open, or of the wrong size/format; the message starts with `what` ("KEK file") and names the
// path but never the content. Every temporary copy of the file's bytes is wiped before returning.
absl::StatusOr<SecretBytes> LoadKeyFile(const std::string& path, absl::string_view what);

}  // namespace medvault
