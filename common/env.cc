#include "common/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace medvault {
namespace {

// Maps errno to a Status. The path is included: paths in medvault never carry PHI (chunk files are
// named by random ids; other paths are configuration).
absl::Status ErrnoStatus(absl::string_view op, const std::string& path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Append(absl::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoStatus("close", path_, errno);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_;
};

// Direct I/O wants the buffer, the file offset and the length aligned to the device's logical
// block; 4 KiB is a multiple of every common one.
constexpr size_t kDirectAlignment = 4096;

// One aligned buffer per thread, grown as needed and reused, so a write costs one copy into warm
// pages instead of an allocation.
char* DirectBuffer(size_t size) {
  struct Buffer {
    char* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (buffer.size < size) {
    std::free(buffer.data);
    buffer.data = nullptr;
    buffer.size = 0;
    void* p = nullptr;
    if (::posix_memalign(&p, kDirectAlignment, size) != 0) return nullptr;
    buffer.data = static_cast<char*>(p);
    buffer.size = size;
  }
  return buffer.data;
}

// The O_DIRECT write of WriteFileSynced: the file's whole 4 KiB blocks straight from an aligned
// buffer, then the last partial block (if any) through the page cache, then fdatasync. (Padding
// the direct write and trimming it with ftruncate instead made the kernel read the last block
// back from the disk to zero its tail.) Sets *unsupported, before anything that matters was
// written, when this filesystem refuses direct I/O, so the caller writes buffered instead.
absl::Status WriteFileDirect(const std::string& path, absl::string_view head,
                             absl::string_view body, bool* unsupported) {
  *unsupported = false;
  const size_t size = head.size() + body.size();
  const size_t aligned = size / kDirectAlignment * kDirectAlignment;
  std::string tail;  // the bytes after the last whole block
  char* buffer = nullptr;
  if (aligned > 0) {
    buffer = DirectBuffer(aligned);
    if (buffer == nullptr)
      return absl::ResourceExhaustedError("no memory for a direct write buffer");
  }
  // Copies bytes [from, to) of head+body to `out`.
  auto copy = [&](size_t from, size_t to, char* out) {
    if (from < head.size()) {
      const size_t n = std::min(to, head.size()) - from;
      std::memcpy(out, head.data() + from, n);
      out += n;
      from += n;
    }
    if (from < to) std::memcpy(out, body.data() + (from - head.size()), to - from);
  };
  if (aligned > 0) copy(0, aligned, buffer);
  tail.resize(size - aligned);
  if (!tail.empty()) copy(aligned, size, tail.data());

  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0) {
    if (errno == EINVAL) *unsupported = true;
    return ErrnoStatus("open", path, errno);
  }
  absl::Status s;
  for (size_t done = 0; done < aligned && s.ok();) {
    ssize_t n = ::pwrite(fd, buffer + done, aligned - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EINVAL && done == 0) *unsupported = true;
      s = ErrnoStatus("write", path, errno);
    } else if (n == 0 || n % kDirectAlignment != 0) {
      s = absl::InternalError(
          absl::StrCat("write ", path, ": short direct write of ", n, " bytes"));
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (s.ok() && !tail.empty()) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0)
      s = ErrnoStatus("fcntl", path, errno);
    for (size_t done = 0; done < tail.size() && s.ok();) {
      ssize_t n =
          ::pwrite(fd, tail.data() + done, tail.size() - done, static_cast<off_t>(aligned + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        s = ErrnoStatus("write", path, n < 0 ? errno : EIO);
      } else {
        done += static_cast<size_t>(n);
      }
    }
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = ErrnoStatus("fdatasync", path, errno);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus("close", path, errno);
  return s;
}

class PosixFilesystem : public Filesystem {
 public:
  explicit PosixFilesystem(bool direct_writes) : direct_io_(direct_writes) {}

  absl::Status WriteFileSynced(const std::string& path, absl::string_view head,
                               absl::string_view body) override {
    if (direct_io_.load(std::memory_order_relaxed)) {
      bool unsupported = false;
      absl::Status s = WriteFileDirect(path, head, body, &unsupported);
      if (!unsupported) return s;
      direct_io_.store(false, std::memory_order_relaxed);  // e.g. tmpfs: from now on, buffered
    }
    return Filesystem::WriteFileSynced(path, head, body);
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return ErrnoStatus("read", path, err);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                            size_t length) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    std::string out(length, '\0');
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return ErrnoStatus("pread", path, err);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(done);
    return out;
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename", from, errno);
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open dir", path, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync dir", path, err);
    return absl::OkStatus();
  }

  absl::Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("unlink", path, errno);
    return absl::OkStatus();
  }

  absl::Status CreateDirs(const std::string& path) override {
    if (path.empty()) return absl::OkStatus();
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
    }
    auto slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
      absl::Status s = CreateDirs(path.substr(0, slash));
      if (!s.ok()) return s;
    }
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir", path, errno);
    return absl::OkStatus();
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return ErrnoStatus("opendir", path, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(dir);
    return names;
  }

  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    FileInfo info;
    info.size = static_cast<uint64_t>(st.st_size);
    info.mtime_micros =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000 + st.st_mtim.tv_nsec / 1000;
    return info;
  }

  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) return ErrnoStatus("statvfs", path, errno);
    DiskSpace space;
    space.capacity_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    space.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return space;
  }

 private:
  // Direct I/O (when asked for) until a filesystem refuses it (a process keeps its data on one
  // filesystem; after a refusal, writes only cost the page cache again).
  std::atomic<bool> direct_io_;
};

class SystemClock : public Clock {
 public:
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

absl::StatusOr<std::string> Filesystem::ReadFileRange(const std::string& path, uint64_t offset,
                                                      size_t length) {
  absl::StatusOr<std::string> whole = ReadFile(path);
  if (!whole.ok()) return whole.status();
  if (offset >= whole->size()) return std::string();
  return whole->substr(static_cast<size_t>(offset), length);
}

absl::Status Filesystem::WriteFileSynced(const std::string& path, absl::string_view head,
                                         absl::string_view body) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file = NewWritableFile(path);
  if (!file.ok()) return file.status();
  absl::Status s = (*file)->Append(head);
  if (s.ok()) s = (*file)->Append(body);
  if (s.ok()) s = (*file)->Sync();
  absl::Status closed = (*file)->Close();
  return s.ok() ? closed : s;
}

std::unique_ptr<Filesystem> NewPosixFilesystem(bool direct_writes) {
  return std::make_unique<PosixFilesystem>(direct_writes);
}

Filesystem* DefaultFilesystem() {
  static Filesystem* fs = new PosixFilesystem(/*direct_writes=*/false);
  return fs;
}

Clock* RealClock() {
  static Clock* clock = new SystemClock();
  return clock;
}

int64_t FakeClock::NowMicros() { return now_.load(); }
void FakeClock::Advance(int64_t micros) { now_.fetch_add(micros); }

}  // namespace medvault
