// Request helpers the DICOMweb resources share (defined in dicomweb.cc).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/core/image_store_core.h"

namespace medvault::frontend::web {

// %XX and '+' decoded.
std::string PercentDecode(absl::string_view s);
// The decoded query parameters in order (keys may repeat).
std::vector<std::pair<std::string, std::string>> ParseQueryList(absl::string_view query);
// The same, the last value of a repeated key kept.
std::map<std::string, std::string> ParseQuery(absl::string_view query);
// A fresh random multipart boundary.
std::string NewBoundary();
// The instances of the study (index only), narrowed to one series and one instance when given;
// NOT_FOUND when none matches.
absl::StatusOr<std::vector<v1::InstanceInfo>> Instances(ImageStoreCore* core,
                                                        const std::string& study,
                                                        const std::string& series,
                                                        const std::string& instance);

}  // namespace medvault::frontend::web
