// Disk and time reach medvault code through these interfaces (as LevelDB's Env does), so tests can
// inject faults (drop unsynced data, fill the disk, fail an fsync) and move the clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault {

// A file being written. Not thread-safe.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(absl::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

struct FileInfo {
  uint64_t size = 0;
  int64_t mtime_micros = 0;
};

struct DiskSpace {
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
};

// Filesystem operations. Implementations are thread-safe. Errors: NOT_FOUND for a missing path,
// RESOURCE_EXHAUSTED when the disk is full (ENOSPC/EDQUOT), INTERNAL/UNAVAILABLE otherwise.
class Filesystem {
 public:
  virtual ~Filesystem() = default;
  // Creates (truncating) a file for writing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // Up to `length` bytes of `path` from `offset` (fewer at the end of the file, none past it).
  // This default reads the whole file; the POSIX filesystem uses pread.
  virtual absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                                    size_t length);
  // Atomically replaces `to` with `from`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes a directory's entries (creations, renames, deletions) durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  virtual absl::Status DeleteFile(const std::string& path) = 0;
  // Creates the directory and its missing parents.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, excluding "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;
  virtual absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) = 0;

  // Creates (truncating) `path` holding `head` then `body`, durable (fdatasync) when this returns
  // OK; on error the file may exist with any part of them. This default goes through
  // NewWritableFile. A POSIX filesystem made with direct writes uses O_DIRECT where the
  // filesystem takes it (older kernels' tmpfs does not): the bytes go from one aligned buffer to
  // the disk, not through the page cache (docs/benchmarks.md, "Chunk files written with O_DIRECT").
  virtual absl::Status WriteFileSynced(const std::string& path, absl::string_view head,
                                       absl::string_view body);
};

// The real POSIX filesystem. Process-wide singleton, never destroyed.
Filesystem* DefaultFilesystem();
// A separate instance of the POSIX filesystem. With `direct_writes`, WriteFileSynced uses O_DIRECT
// where the filesystem takes it (chunkserver --direct_io, fsync_bound); DefaultFilesystem() does
// not.
std::unique_ptr<Filesystem> NewPosixFilesystem(bool direct_writes);

// Time source.
class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() = 0;
};

// The system clock. Process-wide singleton.
Clock* RealClock();

// A clock tests move by hand. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}
  int64_t NowMicros() override;
  void Advance(int64_t micros);

 private:
  std::atomic<int64_t> now_;
};

}  // namespace medvault
