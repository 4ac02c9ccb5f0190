// C-FIND matching (PS3.4 C.2.2.2) of one attribute, independent of the network: single value,
// universal, wildcard (* and ?), range (DA, TM, DT) and list of UIDs.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace medvault::frontend {

// How a key's VR affects its matching.
enum class MatchVr {
  kText,    // single value or wildcard (PN, LO, SH, CS, AE, ...)
  kUid,     // single value or a backslash-separated list of UIDs; no wildcards
  kDate,    // DA: single value or range "A-B", "-B", "A-"
  kTime,    // TM: likewise
  kNumber,  // IS: single value
};

// True when `value` (what the index holds, empty when unknown) matches the query key `key` (as the
// C-FIND identifier carries it: trailing spaces ignored). An empty key, or "*", matches anything
// (universal matching). With a non-universal key an empty value matches nothing, as PS3.4 has it
// for single-value, wildcard and list matching (a range with one open end also needs a value).
bool MatchesKey(MatchVr vr, absl::string_view key, absl::string_view value);

// `pattern` with * (any run) and ? (any one character) against all of `text`.
bool WildcardMatch(absl::string_view pattern, absl::string_view text);

}  // namespace medvault::frontend
