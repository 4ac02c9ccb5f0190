#include "keyservice/core/kek.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/key_file.h"

namespace medvault::keyservice {

absl::StatusOr<SecretBytes> LoadKekFile(const std::string& path) {
  return LoadKeyFile(path, "KEK file");
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
