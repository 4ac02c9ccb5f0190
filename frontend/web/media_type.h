// Media types as HTTP carries them in Accept and Content-Type: "type/subtype" with parameters,
// whose values may be quoted ("multipart/related; type=\"application/dicom\""). Parsing of the
// parameter lists is Boost.Beast's (RFC 7230 grammar); this file splits the list and names things.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::frontend::web {

struct MediaType {
  std::string type;  // "multipart/related", lower case
  // Parameters by lower-case name; values unquoted, case kept.
  std::map<std::string, std::string> params;
  std::string Param(const std::string& name) const;
};

// One media type with parameters (a Content-Type value). INVALID_ARGUMENT when malformed.
absl::StatusOr<MediaType> ParseMediaType(absl::string_view value);
// An Accept value: the comma-separated media ranges (commas inside quoted values do not split).
// Ranges that are malformed are skipped; "q=0" ranges are dropped.
std::vector<MediaType> ParseAccept(absl::string_view value);
// ParseAccept's ranges, most preferred (highest q) first; equal q keep their order.
std::vector<MediaType> ParseAcceptByPreference(absl::string_view value);

}  // namespace medvault::frontend::web
