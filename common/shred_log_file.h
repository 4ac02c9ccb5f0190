// Reading shred logs back (the file format of keyservice/core/shred_log.h): a restore from a backup
// reads the key service replicas' shred logs to destroy again what was destroyed after the backup
// was taken. The key service drops those keys from its restored state; the metaserver drops those
// objects from its restored index (docs/security.md, "Backups and crypto-shredding"). Object ids
// only: no PHI, no key material.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"

namespace medvault {

// A shred log as read back.
struct ShredLogContents {
  int64_t since_micros = 0;
  int64_t last_gap_micros = 0;  // 0: no gap
  std::set<std::string> object_ids;
};

// The first line of every shred log, followed by its "since" time in unix microseconds.
inline constexpr absl::string_view kShredLogHeader = "medvault-shred-log v1 since ";

// Parses a shred log's text. A torn last line (no newline: the writer died mid-append) is ignored.
// DATA_LOSS for a missing header or a malformed complete line.
absl::StatusOr<ShredLogContents> ParseShredLog(absl::string_view text);

// Reads and parses every log of `paths` (comma-separated); errors name the path.
absl::StatusOr<std::vector<ShredLogContents>> ReadShredLogs(Filesystem* fs,
                                                            absl::string_view paths);

// The object ids every log lists, when at least one log covers everything since `backup_micros`
// (it began before and has no gap after it). FAILED_PRECONDITION otherwise: an object destroyed
// after the backup could come back to life.
absl::StatusOr<std::set<std::string>> DestroyedSinceBackup(
    const std::vector<ShredLogContents>& logs, int64_t backup_micros);

}  // namespace medvault
