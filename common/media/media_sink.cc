#include "common/media/media_sink.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"

namespace medvault::media {
namespace {

absl::Status Errno(int err, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// Writes all of `bytes` to `fd`.
absl::Status WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, "writing the medium");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

class DirectorySink : public MediaSink {
 public:
  explicit DirectorySink(std::string root) : root_(std::move(root)) {}
  ~DirectorySink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status BeginFile(const std::string& path, uint64_t) override {
    const std::string full = root_ + "/" + path;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path(), ec);
    if (ec) return Errno(ec.value(), absl::StrCat("creating the folder of ", path));
    fd_ = ::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno(errno, absl::StrCat("creating ", path));
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view data) override { return WriteAll(fd_, data); }
  absl::Status EndFile() override {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Errno(errno, "closing a file of the medium");
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  const std::string root_;
  int fd_ = -1;
};

class ArchiveSink : public MediaSink {
 public:
  explicit ArchiveSink(struct archive* a) : a_(a) {}
  ~ArchiveSink() override {
    if (entry_ != nullptr) archive_entry_free(entry_);
    // Not closed: a write failed. Nothing more is written, so the medium stays visibly truncated
    // (no central directory that would make a partial ZIP look complete).
    if (!closed_) archive_write_fail(a_);
    archive_write_free(a_);
    if (fd >= 0) ::close(fd);
  }

  absl::Status BeginFile(const std::string& path, uint64_t size) override {
    staged_sectors_ += (size + kSector - 1) / kSector;
    ++files_;
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      folders_.insert(path.substr(0, slash));
    }
    if (entry_ == nullptr) entry_ = archive_entry_new();
    archive_entry_clear(entry_);
    archive_entry_set_pathname(entry_, path.c_str());
    archive_entry_set_filetype(entry_, AE_IFREG);
    archive_entry_set_perm(entry_, 0444);
    archive_entry_set_size(entry_, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry_, ::time(nullptr), 0);
    if (archive_write_header(a_, entry_) != ARCHIVE_OK) return Error("writing an entry's header");
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view data) override {
    while (!data.empty()) {
      const la_ssize_t n = archive_write_data(a_, data.data(), data.size());
      if (n <= 0) return Error("writing an entry");
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status EndFile() override {
    if (archive_write_finish_entry(a_) != ARCHIVE_OK) return Error("finishing an entry");
    return absl::OkStatus();
  }
  absl::Status Close() override {
    closed_ = true;
    written_at_close = 0;
    closing = true;
    if (progress.begin) progress.begin(CloseEstimate());
    if (archive_write_close(a_) != ARCHIVE_OK) return Error("finishing the archive");
    if (fd >= 0) {
      const int file = fd;
      fd = -1;
      if (::close(file) != 0) return Errno(errno, "closing the medium");
    }
    return absl::OkStatus();
  }

  // What an ISO 9660 image of the staged files takes: the system area (16 sectors), the volume
  // descriptor and its terminator, four path tables, a sector per folder and for the root, the
  // files' sectors, and the 150 sectors of padding ("pad" below). A ZIP's Close writes only its
  // central directory and the last buffered block: a sector per file, roughly.
  uint64_t CloseEstimate() const {
    if (!iso) return kSector * (files_ + 1);
    return kSector * (16 + 2 + 4 + folders_.size() + 1 + staged_sectors_ + 150);
  }

  absl::Status Error(absl::string_view what) {
    if (!callback_error.ok()) return callback_error;
    const char* message = archive_error_string(a_);
    const int err = archive_errno(a_);
    if (err == ENOSPC || err == EDQUOT) return Errno(err, what);
    return absl::InternalError(absl::StrCat(what, ": ", message ? message : "libarchive failed"));
  }

  absl::Status callback_error;  // the first error of a ByteSink
  ByteSink out;
  int fd = -1;  // the archive file this sink owns (closed by Close or the destructor), or -1
  bool iso = false;
  CloseProgress progress;
  bool closing = false;  // in Close: bytes written now count for `progress`
  uint64_t written_at_close = 0;

 private:
  static constexpr uint64_t kSector = 2048;
  uint64_t staged_sectors_ = 0;
  uint64_t files_ = 0;
  std::set<std::string> folders_;
  struct archive* const a_;
  struct archive_entry* entry_ = nullptr;
  bool closed_ = false;
};

absl::StatusOr<struct archive*> NewWriter(MediaFormat format, const std::string& volume_id) {
  struct archive* a = archive_write_new();
  if (a == nullptr) return absl::ResourceExhaustedError("archive_write_new failed");
  int r = ARCHIVE_OK;
  if (format == MediaFormat::kZip) {
    r = archive_write_set_format_zip(a);
  } else {
    r = archive_write_set_format_iso9660(a);
    // Plain ISO 9660 level 1 names (8 characters, upper case), as PS3.12 asks of a PDI disc; the
    // names the writer is given already are.
    if (r == ARCHIVE_OK) r = archive_write_set_format_option(a, "iso9660", "rockridge", nullptr);
    if (r == ARCHIVE_OK) r = archive_write_set_format_option(a, "iso9660", "joliet", nullptr);
    if (r == ARCHIVE_OK) r = archive_write_set_format_option(a, "iso9660", "iso-level", "1");
    if (r == ARCHIVE_OK && !volume_id.empty()) {
      r = archive_write_set_format_option(a, "iso9660", "volume-id", volume_id.c_str());
    }
    if (r == ARCHIVE_OK) r = archive_write_set_format_option(a, "iso9660", "pad", "1");
  }
  if (r != ARCHIVE_OK) {
    const std::string message = archive_error_string(a) ? archive_error_string(a) : "";
    archive_write_free(a);
    return absl::InternalError(absl::StrCat("configuring libarchive's writer: ", message));
  }
  return a;
}

la_ssize_t WriteToSink(struct archive*, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<ArchiveSink*>(client);
  if (!sink->callback_error.ok()) return -1;
  sink->callback_error = sink->out(absl::string_view(static_cast<const char*>(buffer), length));
  if (!sink->callback_error.ok()) return -1;
  if (sink->closing) {
    sink->written_at_close += length;
    if (sink->progress.written) sink->progress.written(sink->written_at_close);
  }
  return static_cast<la_ssize_t>(length);
}

}  // namespace

absl::StatusOr<MediaFormat> ParseMediaFormat(absl::string_view name) {
  if (name == "dir") return MediaFormat::kDirectory;
  if (name == "zip") return MediaFormat::kZip;
  if (name == "iso") return MediaFormat::kIso;
  return absl::InvalidArgumentError(
      absl::StrCat("format must be dir, zip or iso, not '", name, "'"));
}

absl::StatusOr<std::unique_ptr<MediaSink>> NewDirectorySink(const std::string& root) {
  std::error_code ec;
  if (std::filesystem::exists(root, ec)) {
    if (!std::filesystem::is_directory(root, ec) || !std::filesystem::is_empty(root, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat(root, " exists and is not an empty folder; export into a new one"));
    }
  } else if (!std::filesystem::create_directories(root, ec)) {
    return Errno(ec.value(), absl::StrCat("creating ", root));
  }
  return std::unique_ptr<MediaSink>(new DirectorySink(root));
}

absl::StatusOr<std::unique_ptr<MediaSink>> NewArchiveFileSink(const std::string& path,
                                                              MediaFormat format,
                                                              const std::string& volume_id,
                                                              CloseProgress progress) {
  if (format == MediaFormat::kDirectory) return NewDirectorySink(path);
  absl::StatusOr<struct archive*> a = NewWriter(format, volume_id);
  if (!a.ok()) return a.status();
  auto sink = std::make_unique<ArchiveSink>(*a);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(errno, absl::StrCat("creating ", path));
  // The file is written through WriteToSink (as a stream is) so Close can count the bytes.
  sink->fd = fd;
  sink->out = [fd](absl::string_view bytes) { return WriteAll(fd, bytes); };
  sink->iso = format == MediaFormat::kIso;
  sink->progress = std::move(progress);
  // As archive_write_open_filename does for a regular file: the last block is not padded.
  archive_write_set_bytes_in_last_block(*a, 1);
  if (archive_write_open(*a, sink.get(), nullptr, WriteToSink, nullptr) != ARCHIVE_OK) {
    return sink->Error(absl::StrCat("creating ", path));
  }
  return std::unique_ptr<MediaSink>(std::move(sink));
}

absl::StatusOr<std::unique_ptr<MediaSink>> NewZipStreamSink(ByteSink out) {
  absl::StatusOr<struct archive*> a = NewWriter(MediaFormat::kZip, "");
  if (!a.ok()) return a.status();
  auto sink = std::make_unique<ArchiveSink>(*a);
  sink->out = std::move(out);
  // Hand each piece over as soon as it is produced, not in 10 KiB blocks padded at the end.
  archive_write_set_bytes_per_block(*a, 0);
  if (archive_write_open(*a, sink.get(), nullptr, WriteToSink, nullptr) != ARCHIVE_OK) {
    return sink->Error("opening the ZIP stream");
  }
  return std::unique_ptr<MediaSink>(std::move(sink));
}

}  // namespace medvault::media
