// Value parsers shared by the verbs' argument parsing (declared in cli/args_verb.h).
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "cli/args_verb.h"

namespace medvault::cli {

std::string FlagValue(const FlagValues& flags, const std::string& name) {
  auto it = flags.find(name);
  return it == flags.end() ? std::string() : it->second;
}

absl::StatusOr<double> ParseSeconds(absl::string_view flag, const std::string& value,
                                    bool allow_zero) {
  std::string v = value;
  if (absl::EndsWith(v, "s")) v.pop_back();
  double d;
  if (!absl::SimpleAtod(v, &d) || !(d >= 0) || (!allow_zero && d == 0) || d > 1e7) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " wants a number of seconds",
                                                   allow_zero ? "" : " above 0", ", not '", value,
                                                   "'"));
  }
  return d;
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view flag, const std::string& value) {
  uint64_t n;
  if (value.empty() || value[0] == '-' || !absl::SimpleAtoi(value, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " wants a non-negative integer, not '", value, "'"));
  }
  return n;
}

absl::StatusOr<int> ParseJobs(const FlagValues& flags) {
  auto it = flags.find("jobs");
  if (it == flags.end()) return kDefaultJobs;
  uint64_t n;
  if (!absl::SimpleAtoi(it->second, &n) || n < 1 || n > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jobs wants an integer from 1 to 256, not '", it->second, "'"));
  }
  return static_cast<int>(n);
}

absl::StatusOr<std::string> ParseDate(absl::string_view flag, const std::string& value) {
  std::string d = absl::StrReplaceAll(value, {{"-", ""}});
  bool ok = d.size() == 8;
  for (char c : d) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (ok) {
    int month = (d[4] - '0') * 10 + (d[5] - '0');
    int day = (d[6] - '0') * 10 + (d[7] - '0');
    ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " wants a date YYYYMMDD, not '", value, "'"));
  }
  return d;
}

absl::StatusOr<int64_t> ParseTimeFlag(absl::string_view flag, const std::string& value) {
  int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds) && seconds > 0 && seconds < (int64_t{1} << 40)) {
    return seconds * 1000000;
  }
  absl::Time t;
  std::string why;
  if (absl::ParseTime(absl::RFC3339_full, value, &t, &why) && t > absl::UnixEpoch()) {
    return absl::ToUnixMicros(t);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, " wants a time like 2026-11-23T13:00:00Z or Unix seconds, not '", value, "'"));
}

absl::Status NoPositionals(Verb verb, const std::vector<std::string>& positionals) {
  if (positionals.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(VerbName(verb), ": unexpected argument '", positionals[0], "'"));
}

absl::Status RequireNonEmpty(Verb verb, const FlagValues& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it != flags.end() && it->second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(VerbName(verb), ": --", name, " must not be empty"));
  }
  return absl::OkStatus();
}

}  // namespace medvault::cli
