// Local file access for `medvault put`: expanding the PATH arguments into the list of files to
// store, and reading one file in fixed-size pieces for streaming.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medvault::cli {

// One file to store, or a path that cannot be read (error set): such entries are reported as
// failures of their own rather than aborting the run.
struct FileEntry {
  std::string path;
  absl::Status error;
};

// Expands `paths` in argument order: a regular file (or a symlink to one) stands for itself; a
// folder for every regular file below it, recursively, sorted by path. Inside folders, other kinds
// of entries (devices, sockets, symlinks to folders) are skipped. A missing argument, an argument
// that is neither file nor folder, or an unreadable folder becomes an entry with an error.
std::vector<FileEntry> CollectFiles(const std::vector<std::string>& paths);

// Maps an errno to a Status with `context` ("open x: Permission denied" -> PERMISSION_DENIED).
absl::Status ErrnoToStatus(int err, const std::string& context);

// A file opened for sequential reading. Not thread-safe.
class FileReader {
 public:
  // Errors: NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT when `path` is not a regular file.
  static absl::StatusOr<std::unique_ptr<FileReader>> Open(const std::string& path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Replaces *piece with the next min(max_bytes, remaining) bytes; an empty piece means end of
  // file. Errors: INTERNAL/PERMISSION_DENIED from read(2).
  absl::Status Read(size_t max_bytes, std::string* piece);

  // Size when opened.
  uint64_t size() const { return size_; }

 private:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

}  // namespace medvault::cli
