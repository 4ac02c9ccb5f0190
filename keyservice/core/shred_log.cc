#include "keyservice/core/shred_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

constexpr absl::string_view kGap = "gap ";

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("shred log: ", what, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fdatasync(fd) != 0) return Errno("fdatasync");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShredLog>> ShredLog::Open(const std::string& path, Clock* clock) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    absl::Status header = WriteAll(fd, absl::StrCat(kShredLogHeader, clock->NowMicros(), "\n"));
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (header.ok()) header = DefaultFilesystem()->SyncDir(dir.empty() ? "/" : dir);
    if (!header.ok()) {
      ::close(fd);
      return header;
    }
    return std::unique_ptr<ShredLog>(new ShredLog(fd, clock));
  }
  if (errno != EEXIST) return Errno(absl::StrCat("creating ", path));
  absl::StatusOr<std::string> text = DefaultFilesystem()->ReadFile(path);
  if (!text.ok()) return text.status();
  if (absl::StatusOr<ShredLogContents> parsed = ParseShredLog(*text); !parsed.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("shred log ", path, " is not one: ", parsed.status().message()));
  }
  fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("opening ", path));
  return std::unique_ptr<ShredLog>(new ShredLog(fd, clock));
}

ShredLog::~ShredLog() { ::close(fd_); }

absl::Status ShredLog::AppendLine(const std::string& line) {
  absl::MutexLock lock(&mu_);
  return WriteAll(fd_, line);
}

absl::Status ShredLog::Destroyed(absl::string_view object_id) {
  return AppendLine(absl::StrCat(ToHex(object_id), "\n"));
}

absl::Status ShredLog::Gap() { return AppendLine(absl::StrCat(kGap, clock_->NowMicros(), "\n")); }

absl::StatusOr<uint64_t> ApplyShredLogs(const std::vector<ShredLogContents>& logs,
                                        int64_t backup_micros, v1::RaftSnapshot* state) {
  ASSIGN_OR_RETURN(const std::set<std::string> destroyed,
                   DestroyedSinceBackup(logs, backup_micros));
  v1::RaftKvBatch data;
  if (!data.ParseFromString(state->data()))
    return absl::DataLossError("key service snapshot does not parse");
  v1::RaftKvBatch kept;
  uint64_t removed = 0;
  for (v1::RaftKvWrite& w : *data.mutable_writes()) {
    if (w.cf() == kKeysColumnFamily && destroyed.count(w.key()) > 0) {
      ++removed;
      continue;
    }
    *kept.add_writes() = std::move(w);
  }
  state->set_data(kept.SerializeAsString());
  return removed;
}

}  // namespace medvault::keyservice
