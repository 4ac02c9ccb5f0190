#include "frontend/query/find_match.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace medvault::frontend {
namespace {

// Time values compare as text once padded: "10" < "1030" < "103045.5" works lexicographically
// only for equal lengths, so both sides are padded with '0' to the longer.
int CompareTimes(absl::string_view a, absl::string_view b) {
  std::string x(a), y(b);
  const size_t n = std::max(x.size(), y.size());
  x.resize(n, '0');
  y.resize(n, '0');
  return x.compare(y);
}

bool InRange(MatchVr vr, absl::string_view key, absl::string_view value) {
  const size_t dash = key.find('-');
  const absl::string_view lo = key.substr(0, dash), hi = key.substr(dash + 1);
  if (value.empty()) return false;
  auto cmp = [vr](absl::string_view a, absl::string_view b) {
    if (vr == MatchVr::kTime) return CompareTimes(a, b);
    return a.compare(b);
  };
  // A date-time range end compares only as far as it is given: 20240101 covers the whole day.
  auto prefix = [](absl::string_view v, size_t n) { return v.substr(0, std::min(v.size(), n)); };
  if (!lo.empty() && cmp(prefix(value, vr == MatchVr::kTime ? value.size() : lo.size()), lo) < 0)
    return false;
  if (!hi.empty() && cmp(prefix(value, vr == MatchVr::kTime ? value.size() : hi.size()), hi) > 0)
    return false;
  return true;
}

}  // namespace

bool WildcardMatch(absl::string_view pattern, absl::string_view text) {
  // Iterative glob with backtracking to the last '*'.
  size_t p = 0, t = 0, star = absl::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool MatchesKey(MatchVr vr, absl::string_view key, absl::string_view value) {
  key = absl::StripTrailingAsciiWhitespace(key);
  value = absl::StripTrailingAsciiWhitespace(value);
  if (key.empty() || key == "*") return true;
  switch (vr) {
    case MatchVr::kUid:
      for (absl::string_view uid : absl::StrSplit(key, '\\')) {
        if (!uid.empty() && uid == value) return true;
      }
      return false;
    case MatchVr::kDate:
    case MatchVr::kTime:
      if (key.find('-') != absl::string_view::npos) return InRange(vr, key, value);
      if (vr == MatchVr::kTime) return !value.empty() && CompareTimes(key, value) == 0;
      return key == value;
    case MatchVr::kNumber:
      return key == absl::StripLeadingAsciiWhitespace(value);
    case MatchVr::kText:
      if (key.find_first_of("*?") != absl::string_view::npos) {
        return !value.empty() && WildcardMatch(key, value);
      }
      return key == value;
  }
  return false;
}

}  // namespace medvault::frontend
