#include "common/shred_log_file.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"

namespace medvault {
namespace {

constexpr absl::string_view kGap = "gap ";
constexpr size_t kObjectIdBytes = 16;

}  // namespace

absl::StatusOr<ShredLogContents> ParseShredLog(absl::string_view text) {
  ShredLogContents out;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // The last element is what follows the last newline: empty, or a torn append.
  lines.pop_back();
  if (lines.empty() || !absl::StartsWith(lines[0], kShredLogHeader) ||
      !absl::SimpleAtoi(lines[0].substr(kShredLogHeader.size()), &out.since_micros)) {
    return absl::DataLossError("shred log has no header");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], kGap)) {
      int64_t at;
      if (!absl::SimpleAtoi(lines[i].substr(kGap.size()), &at))
        return absl::DataLossError(absl::StrCat("shred log line ", i + 1, " is malformed"));
      out.last_gap_micros = std::max(out.last_gap_micros, at);
      continue;
    }
    absl::StatusOr<std::string> id = FromHex(lines[i]);
    if (!id.ok() || id->size() != kObjectIdBytes)
      return absl::DataLossError(absl::StrCat("shred log line ", i + 1, " is malformed"));
    out.object_ids.insert(*std::move(id));
  }
  return out;
}

absl::StatusOr<std::vector<ShredLogContents>> ReadShredLogs(Filesystem* fs,
                                                            absl::string_view paths) {
  std::vector<ShredLogContents> logs;
  for (absl::string_view path : absl::StrSplit(paths, ',', absl::SkipEmpty())) {
    absl::StatusOr<std::string> text = fs->ReadFile(std::string(path));
    if (!text.ok())
      return absl::Status(text.status().code(),
                          absl::StrCat("shred log ", path, ": ", text.status().message()));
    absl::StatusOr<ShredLogContents> parsed = ParseShredLog(*text);
    if (!parsed.ok())
      return absl::Status(parsed.status().code(),
                          absl::StrCat("shred log ", path, ": ", parsed.status().message()));
    logs.push_back(*std::move(parsed));
  }
  return logs;
}

absl::StatusOr<std::set<std::string>> DestroyedSinceBackup(
    const std::vector<ShredLogContents>& logs, int64_t backup_micros) {
  bool covered = false;
  std::set<std::string> destroyed;
  for (const ShredLogContents& log : logs) {
    if (log.since_micros <= backup_micros && log.last_gap_micros <= backup_micros) covered = true;
    destroyed.insert(log.object_ids.begin(), log.object_ids.end());
  }
  if (!covered) {
    return absl::FailedPreconditionError(
        "no shred log covers the time since the backup was taken (each began after it, or has a "
        "gap after it): keys destroyed since could come back to life; refusing to restore");
  }
  return destroyed;
}

}  // namespace medvault
