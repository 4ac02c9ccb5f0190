#include "keyservice/core/kek.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace medvault::keyservice {
namespace {

constexpr size_t kHexKekChars = 2 * kAesKeyBytes;
// Largest file content we accept (64 hex + '\n'); we read one byte more to detect longer files.
constexpr size_t kMaxKekFileBytes = kHexKekChars + 1;

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

absl::Status Refuse(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("KEK file ", path, ": ", why));
}

}  // namespace

absl::StatusOr<SecretBytes> LoadKekFile(const std::string& path) {
  // Permissions are checked on the opened descriptor (fstat), so the file cannot be swapped between
  // the check and the read. Symlinks are followed on purpose: Kubernetes mounts secrets that way.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Refuse(path, absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Refuse(path, absl::StrCat("cannot stat: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Refuse(path, "not a regular file");
  const mode_t perms = st.st_mode & 07777;
  if (perms != 0600 && perms != 0400) {
    return Refuse(path, absl::StrFormat("mode is %04o; it must be 0600 or 0400 (no access for "
                                        "group or others)",
                                        static_cast<unsigned>(perms)));
  }

  char buf[kMaxKekFileBytes + 1];
  BufferWiper wipe_buf(buf, sizeof(buf));
  size_t len = 0;
  while (len < sizeof(buf)) {
    ssize_t n = ::read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Refuse(path, absl::StrCat("cannot read: ", std::strerror(errno)));
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }

  if (len == kAesKeyBytes) return SecretBytes(std::string(buf, len));

  size_t hex_len = len;
  if (hex_len == kHexKekChars + 1 && buf[hex_len - 1] == '\n') --hex_len;
  if (hex_len != kHexKekChars) {
    return Refuse(path, absl::StrCat("wrong size (", len > kMaxKekFileBytes ? "more than " : "",
                                     len > kMaxKekFileBytes ? kMaxKekFileBytes : len,
                                     " bytes); expected 32 raw bytes or 64 hex characters"));
  }
  // Decode into a buffer of final size, so no reallocation leaves a copy behind.
  std::string key(kAesKeyBytes, '\0');
  for (size_t i = 0; i < kAesKeyBytes; ++i) {
    int hi = HexValue(buf[2 * i]);
    int lo = HexValue(buf[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      WipeString(&key);
      return Refuse(path,
                    "64-character content is not hex; expected 32 raw bytes or 64 hex "
                    "characters");
    }
    key[i] = static_cast<char>((hi << 4) | lo);
  }
  return SecretBytes(std::move(key));
}

absl::StatusOr<std::vector<uint32_t>> LoadKekDir(const std::string& dir, KekRing* ring) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("KEK directory ", dir, ": cannot open: ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::vector<uint32_t> loaded;
  for (const std::string& name : names) {
    absl::string_view digits = name;
    if (absl::ConsumePrefix(&digits, "kek-")) {
    }
    uint32_t version = 0;
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(digits, &version) || version == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("KEK directory ", dir, ": file \"", name,
                       "\" is not named by a KEK version (\"<n>\" or \"kek-<n>\")"));
    }
    absl::StatusOr<SecretBytes> key = LoadKekFile(absl::StrCat(dir, "/", name));
    if (!key.ok()) return key.status();
    absl::Status added = ring->Add(version, std::move(*key));
    if (!added.ok()) return added;
    loaded.push_back(version);
  }
  if (loaded.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("KEK directory ", dir, " holds no KEK"));
  }
  std::sort(loaded.begin(), loaded.end());
  return loaded;
}

absl::Status KekRing::Add(uint32_t version, SecretBytes key) {
  if (version == 0) return absl::InvalidArgumentError("KEK version must be positive");
  if (key.size() != kAesKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("KEK version ", version, " must be 32 bytes, got ", key.size()));
  }
  absl::MutexLock lock(&mu_);
  if (keys_.count(version) > 0) {
    return absl::InvalidArgumentError(absl::StrCat("KEK version ", version, " is already held"));
  }
  keys_.emplace(version, std::move(key));
  return absl::OkStatus();
}

absl::StatusOr<KekRef> KekRing::Newest() const {
  absl::MutexLock lock(&mu_);
  if (keys_.empty()) return absl::FailedPreconditionError("no KEK loaded");
  const auto& newest = *keys_.rbegin();
  return KekRef{newest.first, newest.second.view()};
}

absl::StatusOr<KekRef> KekRing::Find(uint32_t version) const {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(version);
  if (it == keys_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("KEK version ", version, " is not loaded in this key service"));
  }
  return KekRef{it->first, it->second.view()};
}

std::vector<uint32_t> KekRing::versions() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint32_t> out;
  for (const auto& [version, key] : keys_) out.push_back(version);
  return out;
}

}  // namespace medvault::keyservice
