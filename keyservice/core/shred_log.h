// The shred log: every key service replica's record of the data keys it destroyed, kept OUTSIDE its
// data directory and outside every backup, so that a restore from a backup can destroy again the
// keys destroyed after that backup was taken (docs/security.md, "Backups and crypto-shredding").
// It holds object ids only (random, no PHI, no key material).
//
// Text, one record a line: "medvault-shred-log v1 since <unix micros>" first (when the log began),
// then a 32-hex-digit object id per destroyed key, and "gap <unix micros>" when the replica's state
// was replaced by a snapshot (a replica catching up that way does not see the destructions it
// skipped, so its log is complete only after the gap).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "common/shred_log_file.h"
#include "medvault/v1/raft.pb.h"

namespace medvault::keyservice {

// Appends to a replica's shred log. Thread-safe.
class ShredLog {
 public:
  // Opens `path` for appending, creating it (header stamped with `clock`'s now, synced with its
  // directory) when missing. FAILED_PRECONDITION when it exists but is not a shred log.
  static absl::StatusOr<std::unique_ptr<ShredLog>> Open(const std::string& path, Clock* clock);
  ~ShredLog();

  // Records a destroyed key, durably (fdatasync) before returning. An error is returned and
  // counted; the caller logs it (the key is destroyed anyway).
  absl::Status Destroyed(absl::string_view object_id);
  // Records that the replica's state was replaced by a snapshot now.
  absl::Status Gap();

 private:
  ShredLog(int fd, Clock* clock) : fd_(fd), clock_(clock) {}
  absl::Status AppendLine(const std::string& line);

  absl::Mutex mu_;
  const int fd_;
  Clock* const clock_;
};

using ::medvault::ParseShredLog;
using ::medvault::ShredLogContents;

// Removes from `state` (a key service snapshot: a serialised RaftKvBatch) every key that a log in
// `logs` records as destroyed, and returns how many it removed. FAILED_PRECONDITION, removing
// nothing, unless at least one log covers everything since `backup_micros` (it began before and has
// no gap after it): otherwise a key destroyed after the backup could come back to life.
absl::StatusOr<uint64_t> ApplyShredLogs(const std::vector<ShredLogContents>& logs,
                                        int64_t backup_micros, v1::RaftSnapshot* state);

}  // namespace medvault::keyservice
