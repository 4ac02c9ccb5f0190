#include "common/key_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace medvault {
namespace {

constexpr size_t kHexKeyChars = 2 * kAesKeyBytes;
// Largest file content we accept (64 hex + '\n'); we read one byte more to detect longer files.
constexpr size_t kMaxKeyFileBytes = kHexKeyChars + 1;

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

// Wipes a stack buffer on scope exit.
class BufferWiper {
 public:
  BufferWiper(void* p, size_t n) : p_(p), n_(n) {}
  ~BufferWiper() { OPENSSL_cleanse(p_, n_); }

 private:
  void* p_;
  size_t n_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status Refuse(absl::string_view what, const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(what, " ", path, ": ", why));
}

}  // namespace

absl::StatusOr<SecretBytes> LoadKeyFile(const std::string& path, absl::string_view what) {
  // Permissions are checked on the opened descriptor (fstat), so the file cannot be swapped between
  // the check and the read. Symlinks are followed on purpose: Kubernetes mounts secrets that way.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Refuse(what, path, absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Refuse(what, path, absl::StrCat("cannot stat: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Refuse(what, path, "not a regular file");
  const mode_t perms = st.st_mode & 07777;
  if (perms != 0600 && perms != 0400) {
    return Refuse(what, path,
                  absl::StrFormat("mode is %04o; it must be 0600 or 0400 (no access for "
                                  "group or others)",
                                  static_cast<unsigned>(perms)));
  }

  char buf[kMaxKeyFileBytes + 1];
  BufferWiper wipe_buf(buf, sizeof(buf));
  size_t len = 0;
  while (len < sizeof(buf)) {
    ssize_t n = ::read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Refuse(what, path, absl::StrCat("cannot read: ", std::strerror(errno)));
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }

  if (len == kAesKeyBytes) return SecretBytes(std::string(buf, len));

  size_t hex_len = len;
  if (hex_len == kHexKeyChars + 1 && buf[hex_len - 1] == '\n') --hex_len;
  if (hex_len != kHexKeyChars) {
    return Refuse(what, path,
                  absl::StrCat("wrong size (", len > kMaxKeyFileBytes ? "more than " : "",
                               len > kMaxKeyFileBytes ? kMaxKeyFileBytes : len,
                               " bytes); expected 32 raw bytes or 64 hex characters"));
  }
  // Decode into a buffer of final size, so no reallocation leaves a copy behind.
  std::string key(kAesKeyBytes, '\0');
  for (size_t i = 0; i < kAesKeyBytes; ++i) {
    int hi = HexValue(buf[2 * i]);
    int lo = HexValue(buf[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      WipeString(&key);
      return Refuse(what, path,
                    "64-character content is not hex; expected 32 raw bytes or 64 hex "
                    "characters");
    }
    key[i] = static_cast<char>((hi << 4) | lo);
  }
  return SecretBytes(std::move(key));
}

}  // namespace medvault
