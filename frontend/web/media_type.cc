#include "frontend/web/media_type.h"

#include <boost/beast/http/rfc7230.hpp>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace medvault::frontend::web {

std::string MediaType::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

namespace {

// Removes the quotes and backslash escapes of an RFC 7230 quoted-string.
std::string Unquote(absl::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

// Quotes each unquoted parameter value that holds characters a token may not: clients send
// "type=application/dicom" unquoted, which RFC 7230's grammar (and so Beast) does not accept.
std::string QuoteBareValues(absl::string_view rest) {
  std::string out;
  size_t i = 0;
  while (i < rest.size()) {
    // rest[i] is the ';' that opens a parameter.
    const size_t eq = rest.find('=', i);
    const size_t next = std::min(rest.find(';', i + 1), rest.size());
    if (eq == absl::string_view::npos || next < eq) {
      out.append(rest.substr(i, next - i).data(), next - i);  // no value: left to the parser
      i = next;
      continue;
    }
    out.append(rest.substr(i, eq + 1 - i).data(), eq + 1 - i);
    size_t v = eq + 1;
    while (v < rest.size() && (rest[v] == ' ' || rest[v] == '\t')) ++v;
    if (v < rest.size() && rest[v] == '"') {
      // A quoted value: copied through its closing quote.
      size_t end = v + 1;
      while (end < rest.size() && rest[end] != '"') end += rest[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, rest.size());
      out.append(rest.substr(eq + 1, end - eq - 1).data(), end - eq - 1);
      i = end;
      continue;
    }
    const size_t end = std::min(rest.find(';', v), rest.size());
    const absl::string_view value = absl::StripTrailingAsciiWhitespace(rest.substr(v, end - v));
    const bool bare = value.find_first_of("/@?=:,[]{}()<>\\") == absl::string_view::npos;
    if (bare || value.empty()) {
      out.append(value.data(), value.size());
    } else {
      out.push_back('"');
      out.append(value.data(), value.size());
      out.push_back('"');
    }
    i = end;
  }
  return out;
}

}  // namespace

absl::StatusOr<MediaType> ParseMediaType(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  const size_t semi = value.find(';');
  MediaType m;
  m.type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value.substr(0, semi)));
  const size_t slash = m.type.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == m.type.size() ||
      m.type.find_first_of(" \t\",") != std::string::npos) {
    return absl::InvalidArgumentError("malformed media type");
  }
  if (semi == absl::string_view::npos) return m;
  const std::string normalized = QuoteBareValues(value.substr(semi));
  const absl::string_view rest = normalized;
  boost::beast::http::param_list list(boost::beast::string_view(rest.data(), rest.size()));
  // param_list stops at the first malformed parameter: it must have read one per ';' outside
  // quotes.
  size_t parsed = 0, expected = 0;
  for (auto it = list.begin(); it != list.end(); ++it, ++parsed) {
    std::string name = absl::AsciiStrToLower(std::string(it->first));
    m.params[name] = Unquote(absl::string_view(it->second.data(), it->second.size()));
  }
  bool quoted = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (quoted && rest[i] == '\\') {
      ++i;
    } else if (rest[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && rest[i] == ';') {
      ++expected;
    }
  }
  if (quoted || parsed != expected) {
    return absl::InvalidArgumentError("malformed media type parameters");
  }
  return m;
}

std::vector<MediaType> ParseAccept(absl::string_view value) {
  std::vector<MediaType> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size()) {
      const char c = value[i];
      if (quoted && c == '\\') {
        ++i;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (quoted || c != ',') continue;
    }
    absl::string_view range = absl::StripAsciiWhitespace(value.substr(start, i - start));
    start = i + 1;
    if (range.empty()) continue;
    absl::StatusOr<MediaType> m = ParseMediaType(range);
    if (!m.ok()) continue;
    const std::string q = m->Param("q");
    if (!q.empty() && q.find_first_not_of("0.") == std::string::npos) continue;
    out.push_back(*std::move(m));
  }
  return out;
}

std::vector<MediaType> ParseAcceptByPreference(absl::string_view value) {
  std::vector<MediaType> ranges = ParseAccept(value);
  auto q = [](const MediaType& m) {
    double v = 1;
    const std::string s = m.Param("q");
    if (!s.empty() && !absl::SimpleAtod(s, &v)) v = 1;
    return v;
  };
  std::stable_sort(ranges.begin(), ranges.end(),
                   [&](const MediaType& a, const MediaType& b) { return q(a) > q(b); });
  return ranges;
}

}  // namespace medvault::frontend::web
