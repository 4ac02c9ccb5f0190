// The chunk server's stable identity: a random id (hex of 16 CSPRNG bytes) created on first start
// and kept durably in <data_dir>/server_id, so the metaserver recognises the server across restarts
// and address changes.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/env.h"

namespace medvault::chunkserver {

inline constexpr char kServerIdFileName[] = "server_id";
inline constexpr size_t kServerIdBytes = 16;

// Returns the id stored in <data_dir>/server_id, creating it (written to a temporary file,
// fsync'd, renamed, directory fsync'd) when absent. REQUIRES: data_dir exists. DATA_LOSS when the
// file exists but does not hold a valid id (it is never silently replaced: a new id would make the
// server look like a different, empty one).
absl::StatusOr<std::string> LoadOrCreateServerId(Filesystem* fs, const std::string& data_dir);

}  // namespace medvault::chunkserver
