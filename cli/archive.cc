#include "cli/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cli/files.h"

namespace medvault::cli {

absl::StatusOr<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a folder, a ZIP file or an ISO image"));
  }
  struct archive* a = archive_read_new();
  if (a == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  archive_read_support_format_zip(a);
  archive_read_support_format_iso9660(a);
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  std::unique_ptr<ArchiveReader> reader(new ArchiveReader(a));
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const int err = archive_errno(a);
    if (err == ENOENT || err == EACCES) return ErrnoToStatus(err, absl::StrCat("open ", path));
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a folder, a ZIP file or an ISO image (",
                     archive_error_string(a) ? archive_error_string(a) : "unknown format", ")"));
  }
  return reader;
}

ArchiveReader::~ArchiveReader() { archive_read_free(archive_); }

absl::Status ArchiveReader::Error(const char* what) const {
  const char* message = archive_error_string(archive_);
  return absl::DataLossError(absl::StrCat(what, ": ", message ? message : "damaged archive"));
}

absl::StatusOr<bool> ArchiveReader::Next(ArchiveEntry* entry) {
  struct archive_entry* e = nullptr;
  const int r = archive_read_next_header(archive_, &e);
  if (r == ARCHIVE_EOF) return false;
  // ARCHIVE_WARN (an unknown extension, say) still gives a usable entry.
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
    if (r == ARCHIVE_FATAL && archive_format(archive_) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a ZIP file or an ISO image (", archive_error_string(archive_), ")"));
    }
    return Error("reading the archive's next entry");
  }
  const char* name = archive_entry_pathname(e);
  entry->path = name != nullptr ? name : "";
  while (entry->path.size() > 1 && entry->path[0] == '.' && entry->path[1] == '/') {
    entry->path.erase(0, 2);
  }
  entry->regular = archive_entry_filetype(e) == AE_IFREG;
  entry->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
                    ? static_cast<uint64_t>(archive_entry_size(e))
                    : 0;
  return true;
}

absl::Status ArchiveReader::Read(size_t max_bytes, std::string* piece) {
  piece->resize(max_bytes);
  const la_ssize_t n = archive_read_data(archive_, piece->data(), max_bytes);
  if (n < 0) {
    piece->clear();
    return Error("reading an archive entry");
  }
  piece->resize(static_cast<size_t>(n));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArchiveReader::ReadAll(uint64_t max_bytes) {
  std::string all, piece;
  for (;;) {
    if (absl::Status s = Read(1 << 16, &piece); !s.ok()) return s;
    if (piece.empty()) return all;
    if (all.size() + piece.size() > max_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("archive entry longer than ", max_bytes, " bytes"));
    }
    all += piece;
  }
}

}  // namespace medvault::cli
