// The secrets of a share: the access code (long, random, never stored: only its SHA-256 is, and
// that hash is how the metaserver finds the share) and the PIN (short enough to read over the
// phone, so it is stored only as a slow salted scrypt hash, and five wrong ones lock the share).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::frontend {

// Characters of an access code (Crockford's base32: no I, L, O, U) and of a PIN (no letter or
// digit that sounds or looks like another: no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
inline constexpr char kCodeAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
inline constexpr char kPinAlphabet[] = "ACDEFGHJKMNPQRTUVWXY34679";
inline constexpr size_t kCodeChars = 26;  // 130 random bits
inline constexpr size_t kPinChars = 6;

// scrypt cost: N = 2^log2_n, r, p (RFC 7914). The default takes 32 MiB and tens of milliseconds.
struct ScryptParams {
  uint32_t log2_n = 15;
  uint32_t r = 8;
  uint32_t p = 1;
};

// A fresh access code, printed in dash-separated groups ("ABCD-EFGH-JKMN-PQRS-TVWXY-Z0123").
absl::StatusOr<std::string> NewAccessCode();
// A fresh PIN of kPinChars characters of kPinAlphabet.
absl::StatusOr<std::string> NewPin();

// The code as stored and compared: upper case, without dashes or spaces, O read as 0 and I/L as 1.
// INVALID_ARGUMENT (never echoing the input) unless that leaves kCodeChars alphabet characters.
absl::StatusOr<std::string> NormalizeAccessCode(absl::string_view code);
// The PIN upper-cased, spaces dropped. INVALID_ARGUMENT unless kPinChars alphabet characters.
absl::StatusOr<std::string> NormalizePin(absl::string_view pin);

// The key of the share in the metaserver: SHA-256 over a label and the normalised code. The code
// holds 130 random bits, so a fast hash is enough to keep it from being recovered.
std::string AccessCodeHash(absl::string_view normalized_code);

// scrypt(PIN, salt) with `params`, 32 bytes. INTERNAL when OpenSSL fails.
absl::StatusOr<std::string> HashPin(absl::string_view normalized_pin, absl::string_view salt,
                                    const ScryptParams& params);
// Whether `normalized_pin` hashes to `expected` (compared in constant time).
absl::StatusOr<bool> PinMatches(absl::string_view normalized_pin, absl::string_view salt,
                                const ScryptParams& params, absl::string_view expected);

}  // namespace medvault::frontend
