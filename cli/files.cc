#include "cli/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

// "a FIFO", "a folder"... for messages; st from lstat(2) or stat(2).
const char* KindOf(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "a regular file";
  if (S_ISDIR(st.st_mode)) return "a folder";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  if (S_ISLNK(st.st_mode)) return "a symbolic link";
  return "not a regular file";
}

bool IsStream(const struct stat& st) { return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode); }

class StreamFile final : public WritableFile {
 public:
  StreamFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~StreamFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Append(absl::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, absl::StrCat("cannot write ", path_));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Close() override {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) {
      return ErrnoToStatus(errno, absl::StrCat("cannot close ", path_));
    }
    return absl::OkStatus();
  }

 private:
  int fd_;
  const std::string path_;
};

}  // namespace

absl::StatusOr<OutputTarget> ResolveOutput(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoToStatus(errno, absl::StrCat("cannot stat ", path));
    st.st_mode = 0;  // a new name
  }
  OutputTarget target{OutputTarget::Kind::kReplace, path};
  if (S_ISLNK(st.st_mode)) {
    // Followed to the file it finally names, which is then treated as if given itself.
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (resolved == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is a symbolic link to nothing (",
                                                        std::strerror(errno), "): not followed"));
    }
    target.path = resolved;
    std::free(resolved);
    if (::stat(target.path.c_str(), &st) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("cannot stat ", target.path));
    }
  }
  if (st.st_mode == 0 || S_ISREG(st.st_mode)) {
    struct stat partial;
    const std::string partial_path = target.path + ".partial";
    if (::lstat(partial_path.c_str(), &partial) == 0 && !S_ISREG(partial.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(partial_path, " is ", KindOf(partial), ": not written over"));
    }
    return target;
  }
  if (IsStream(st)) {
    target.kind = OutputTarget::Kind::kStream;
    return target;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      target.path, " is ", KindOf(st), ": -o takes a file, a FIFO or a character device"));
}

absl::StatusOr<std::unique_ptr<WritableFile>> OpenStreamForWrite(const std::string& path) {
  // No O_CREAT, no O_TRUNC: only what is there is written into.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("cannot stat ", path));
  }
  if (!IsStream(st)) {  // replaced between ResolveOutput and here
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path, " is ", KindOf(st), " now"));
  }
  return std::unique_ptr<WritableFile>(new StreamFile(fd, path));
}

absl::Status RemoveEmptyDir(const std::string& path) {
  if (::rmdir(path.c_str()) == 0) return absl::OkStatus();
  const int err = errno;
  if (err == ENOTEMPTY || err == EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("folder ", path, " is not empty"));
  }
  return ErrnoToStatus(err, absl::StrCat("cannot remove folder ", path));
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
