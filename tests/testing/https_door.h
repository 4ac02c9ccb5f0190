// The frontend's HTTPS door (DICOMweb, the share page) as the cluster tests reach it: a free port
// for it and curl (a client nobody here wrote) as the client, with or without a client
// certificate. Shared by the DICOMweb fixture (dicomweb_fixture.h) and the share tests.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/testing/external_cluster.h"

namespace medvault {

struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string headers;  // the header block as received, names in lower case
};

namespace testing {

// Picks a free port for the frontend's HTTPS door, adds its flag to `options` and returns the
// door's base URL (https://127.0.0.1:PORT).
absl::StatusOr<std::string> AddHttpsDoor(ClusterOptions& options);

// curl against `base` + `path`, trusting the cluster's CA, as certificate `as` ("" for none),
// with `extra` arguments before the URL; the answer's status, content type, headers and body.
// A curl that does not run to the end is a test failure.
HttpAnswer CurlHttps(const ExternalCluster& cluster, const std::string& base, const std::string& as,
                     const std::string& path, const std::vector<std::string>& extra = {});

}  // namespace testing
}  // namespace medvault
