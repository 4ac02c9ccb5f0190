// The offline viewer on a PDI medium (frontend/web/page/disc/ says how it works): its built files
// copied to VIEWER/, and each image of a viewable series as VIEWER/STnnnnnn/SEnnnnnn/IMnnnnnn.JS,
//   medvaultDisc.put("STnnnnnn/SEnnnnnn/IMnnnnnn","<base64 of the DICOM file>");
// a script the viewer may load from file:// where Chromium refuses fetch and XHR. The script is
// written as the instance is read, in pieces, its size known in advance (4/3 of the instance).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/media/pdi.h"

namespace medvault::media {
namespace {

constexpr size_t kPieceBytes = 3 * (64 << 10);  // a multiple of 3: pieces encode independently

absl::Status ReadError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Reads up to `buffer.size()` bytes, fewer only at the end of the file.
absl::StatusOr<size_t> ReadFull(int fd, std::string& buffer) {
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadError("reading a scratch copy");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

absl::Status CopyFile(const std::string& path, const std::string& name, MediaSink& sink) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ReadError(absl::StrCat("opening the viewer's ", name));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return ReadError("sizing a viewer file");
  if (absl::Status s = sink.BeginFile(name, static_cast<uint64_t>(size)); !s.ok()) return s;
  std::string buffer(kPieceBytes, '\0');
  for (;;) {
    absl::StatusOr<size_t> n = ReadFull(fd, buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    if (absl::Status s = sink.Write(absl::string_view(buffer.data(), *n)); !s.ok()) return s;
  }
  return sink.EndFile();
}

}  // namespace

absl::Status AddViewer(const std::string& viewer_dir, MediaSink& sink) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(viewer_dir, ec)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  if (ec || names.empty() ||
      !std::filesystem::exists(std::filesystem::path(viewer_dir) / "VIEWER.HTM")) {
    return absl::FailedPreconditionError(
        absl::StrCat("the offline viewer is not built or installed at ", viewer_dir));
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (absl::Status s = CopyFile(viewer_dir + "/" + name, "VIEWER/" + name, sink); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status AddViewerScript(const std::string& dicom_path, const std::string& file_id,
                             MediaSink& sink) {
  const int fd = ::open(dicom_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ReadError("reopening a scratch copy");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return ReadError("sizing a scratch copy");
  const std::string id = file_id.substr(6);  // without "DICOM/"
  const std::string head = absl::StrCat("medvaultDisc.put(\"", id, "\",\"");
  const std::string tail = "\");\n";
  const uint64_t encoded = (static_cast<uint64_t>(size) + 2) / 3 * 4;
  if (absl::Status s =
          sink.BeginFile(absl::StrCat("VIEWER/", id, ".JS"), head.size() + encoded + tail.size());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = sink.Write(head); !s.ok()) return s;
  std::string buffer(kPieceBytes, '\0');
  std::string base64;
  for (;;) {
    absl::StatusOr<size_t> n = ReadFull(fd, buffer);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    absl::Base64Escape(absl::string_view(buffer.data(), *n), &base64);
    if (absl::Status s = sink.Write(base64); !s.ok()) return s;
    if (*n < buffer.size()) break;
  }
  if (absl::Status s = sink.Write(tail); !s.ok()) return s;
  return sink.EndFile();
}

absl::StatusOr<std::string> FindViewerDir() {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("MEDVAULT_VIEWER_DIR"); dir != nullptr && *dir != '\0') {
    candidates.push_back(dir);
  } else {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back((self.parent_path().parent_path() / "disc-viewer").string());
    candidates.push_back("/usr/share/medvault/disc-viewer");
  }
  for (const std::string& dir : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(dir + "/VIEWER.HTM", ec)) return dir;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the offline viewer is not installed (looked in ", candidates.front(),
                   "); set MEDVAULT_VIEWER_DIR or export with --no-viewer"));
}

}  // namespace medvault::media
