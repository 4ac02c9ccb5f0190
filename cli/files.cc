#include "cli/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace medvault::cli {
namespace fs = std::filesystem;

absl::Status ErrnoToStatus(int err, const std::string& context) {
  std::string msg = absl::StrCat(context, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EISDIR:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

namespace {

// Appends every regular file below `dir` to `out` (unsorted), and an error entry for each folder
// that cannot be listed.
void Walk(const fs::path& dir, std::vector<FileEntry>* out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    out->push_back({dir.string(), ErrnoToStatus(ec.value(), "cannot read folder")});
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::error_code entry_ec;
    fs::file_status st = entry.symlink_status(entry_ec);
    if (entry_ec) {
      out->push_back({entry.path().string(), ErrnoToStatus(entry_ec.value(), "cannot stat")});
      continue;
    }
    if (fs::is_directory(st)) {
      Walk(entry.path(), out);
    } else if (fs::is_regular_file(st)) {
      out->push_back({entry.path().string(), absl::OkStatus()});
    } else if (fs::is_symlink(st)) {
      // Follow links to files, never to folders (no loops, no walking out of the tree).
      if (fs::is_regular_file(entry.status(entry_ec)) && !entry_ec) {
        out->push_back({entry.path().string(), absl::OkStatus()});
      }
    }
  }
  if (ec) out->push_back({dir.string(), ErrnoToStatus(ec.value(), "cannot read folder")});
}

}  // namespace

std::vector<FileEntry> CollectFiles(const std::vector<std::string>& paths) {
  std::vector<FileEntry> out;
  for (const std::string& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      out.push_back({path, ErrnoToStatus(errno, "cannot stat")});
    } else if (S_ISREG(st.st_mode)) {
      out.push_back({path, absl::OkStatus()});
    } else if (S_ISDIR(st.st_mode)) {
      std::vector<FileEntry> below;
      Walk(fs::path(path), &below);
      std::sort(below.begin(), below.end(),
                [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
      for (FileEntry& e : below) out.push_back(std::move(e));
    } else {
      out.push_back({path, absl::InvalidArgumentError("not a regular file or folder")});
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<FileReader>> FileReader::Open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not hang; it changes nothing for regular files.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoToStatus(errno, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError("not a regular file");
  }
  return std::unique_ptr<FileReader>(new FileReader(fd, static_cast<uint64_t>(st.st_size)));
}

FileReader::~FileReader() { ::close(fd_); }

absl::Status FileReader::Read(size_t max_bytes, std::string* piece) {
  piece->resize(max_bytes);
  size_t filled = 0;
  while (filled < max_bytes) {
    ssize_t n = ::read(fd_, piece->data() + filled, max_bytes - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      piece->clear();
      return ErrnoToStatus(err, "cannot read");
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  piece->resize(filled);
  return absl::OkStatus();
}

}  // namespace medvault::cli
