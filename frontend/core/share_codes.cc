#include "frontend/core/share_codes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace medvault::frontend {
namespace {

constexpr size_t kPinHashBytes = 32;

// `n` characters drawn uniformly from `alphabet` (its size divides 256 or rejection sampling
// keeps the draw uniform).
absl::StatusOr<std::string> RandomChars(absl::string_view alphabet, size_t n) {
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < n) {
    ASSIGN_OR_RETURN(std::string bytes, RandomBytes(2 * n));
    for (unsigned char b : bytes) {
      if (b >= limit || out.size() == n) continue;
      out.push_back(alphabet[b % alphabet.size()]);
    }
  }
  return out;
}

bool AllIn(absl::string_view s, absl::string_view alphabet) {
  for (char c : s) {
    if (alphabet.find(c) == absl::string_view::npos) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> NewAccessCode() {
  ASSIGN_OR_RETURN(std::string chars, RandomChars(kCodeAlphabet, kCodeChars));
  std::string out;
  size_t at = 0;
  for (size_t group : {4, 4, 4, 4, 5, 5}) {
    if (!out.empty()) out.push_back('-');
    out.append(chars, at, group);
    at += group;
  }
  return out;
}

absl::StatusOr<std::string> NewPin() { return RandomChars(kPinAlphabet, kPinChars); }

absl::StatusOr<std::string> NormalizeAccessCode(absl::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    c = absl::ascii_toupper(static_cast<unsigned char>(c));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    out.push_back(c);
    if (out.size() > kCodeChars) break;
  }
  if (out.size() != kCodeChars || !AllIn(out, kCodeAlphabet))
    return absl::InvalidArgumentError("the access code is not well-formed");
  return out;
}

absl::StatusOr<std::string> NormalizePin(absl::string_view pin) {
  std::string out;
  for (char c : pin) {
    if (c == ' ') continue;
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    if (out.size() > kPinChars) break;
  }
  if (out.size() != kPinChars || !AllIn(out, kPinAlphabet))
    return absl::InvalidArgumentError("the PIN is not well-formed");
  return out;
}

std::string AccessCodeHash(absl::string_view normalized_code) {
  return Sha256(absl::StrCat("medvault share access code v1\n", normalized_code));
}

absl::StatusOr<std::string> HashPin(absl::string_view normalized_pin, absl::string_view salt,
                                    const ScryptParams& params) {
  if (params.log2_n < 1 || params.log2_n > 20 || params.r < 1 || params.p < 1)
    return absl::InvalidArgumentError("scrypt parameters out of range");
  std::string out(kPinHashBytes, '\0');
  const uint64_t n = uint64_t{1} << params.log2_n;
  // 128 * N * r bytes of memory, plus slack.
  const uint64_t max_mem = 256 * n * params.r + (1 << 20);
  if (EVP_PBE_scrypt(normalized_pin.data(), normalized_pin.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, params.r,
                     params.p, max_mem, reinterpret_cast<unsigned char*>(out.data()),
                     out.size()) != 1) {
    return absl::InternalError("scrypt failed");
  }
  return out;
}

absl::StatusOr<bool> PinMatches(absl::string_view normalized_pin, absl::string_view salt,
                                const ScryptParams& params, absl::string_view expected) {
  ASSIGN_OR_RETURN(std::string actual, HashPin(normalized_pin, salt, params));
  return actual.size() == expected.size() &&
         CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

}  // namespace medvault::frontend
