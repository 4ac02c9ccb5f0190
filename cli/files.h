// Local file access for `medvault put` and `get`: expanding the PATH arguments into the list of
// files to store, reading one file in fixed-size pieces for streaming, and deciding how `get -o`
// may write its output path without ever replacing something that is not a regular file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/env.h"

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

// Removes the folder `path` if it is empty (rmdir(2)); a folder with anything in it stays and is
// FAILED_PRECONDITION.
absl::Status RemoveEmptyDir(const std::string& path);

// How `get -o PATH` writes (issue 14): a regular file is only ever replaced whole, by renaming a
// finished PATH.partial over it; nothing else is ever renamed over or unlinked.
struct OutputTarget {
  enum class Kind {
    // A new name or an existing regular file: write `path`.partial, sync, rename onto `path`.
    kReplace,
    // An existing FIFO or character device (/dev/null, /dev/stdout, a pipe): written into in
    // place, as a shell redirection would; a FIFO waits for its reader. Not atomic: a failed
    // transfer may have written part of the bytes.
    kStream,
  };
  Kind kind = Kind::kReplace;
  // The file to write: PATH itself, or for a symbolic link the file it finally points to (the
  // link is followed, never replaced).
  std::string path;
};

// Decides where and how PATH is written. Refuses (FAILED_PRECONDITION, naming the kind) a folder,
// a socket, a block device, a symbolic link that points nowhere (a dangling link is not made to
// create its target), and a PATH.partial that exists and is not a regular file. Errors of
// stat(2) as ErrnoToStatus maps them.
absl::StatusOr<OutputTarget> ResolveOutput(const std::string& path);

// Opens an existing FIFO or character device for writing: never creates, truncates or replaces
// it, and refuses (FAILED_PRECONDITION) anything else found there at open time. Append reports
// write(2) errors (ENOSPC from /dev/full is RESOURCE_EXHAUSTED); Sync does nothing (there is
// nothing to make durable); Close reports close(2) errors.
absl::StatusOr<std::unique_ptr<WritableFile>> OpenStreamForWrite(const std::string& path);

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
