// Reading ZIP files and ISO 9660 images (and tar) entry by entry with libarchive, for `import`
// (and, later, checking what `export` wrote). Entries are streamed: nothing is extracted to disk
// and only the piece being read is in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct archive;

namespace medvault::cli {

struct ArchiveEntry {
  std::string path;  // as stored in the archive, '/'-separated, relative
  uint64_t size = 0;
  bool regular = false;  // a regular file (not a folder, link or device)
};

// One pass over an archive. Not thread-safe. To read it again, open it again.
class ArchiveReader {
 public:
  // Opens `path` and detects its format (ZIP, ISO 9660 with or without Rock Ridge/Joliet, tar,
  // possibly compressed). Errors: NOT_FOUND/PERMISSION_DENIED for the file, INVALID_ARGUMENT when
  // it is none of these formats.
  static absl::StatusOr<std::unique_ptr<ArchiveReader>> Open(const std::string& path);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Moves to the next entry and describes it in *entry; false after the last one. An unread rest
  // of the previous entry is skipped. Errors: DATA_LOSS for a damaged archive.
  absl::StatusOr<bool> Next(ArchiveEntry* entry);

  // Replaces *piece with the next at most max_bytes of the current entry; empty at its end.
  // Errors: DATA_LOSS (a damaged or truncated entry, a bad checksum).
  absl::Status Read(size_t max_bytes, std::string* piece);

  // The whole current entry; FAILED_PRECONDITION when it is longer than max_bytes.
  absl::StatusOr<std::string> ReadAll(uint64_t max_bytes);

 private:
  explicit ArchiveReader(struct archive* a) : archive_(a) {}
  absl::Status Error(const char* what) const;

  struct archive* archive_;
};

}  // namespace medvault::cli
