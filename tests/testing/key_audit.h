// What the key service's audit log says about a stored instance, asked from outside the cluster
// (tests that prove how many key releases a retrieval made).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "medvault/v1/keyservice.pb.h"
#include "tests/testing/external_cluster.h"

namespace medvault::testing {

// The object id of a stored instance, from the metaserver (asked as the frontend).
absl::StatusOr<std::string> ObjectIdOf(const ExternalCluster& cluster,
                                       const std::string& sop_instance_uid);

// The key service's "release" records naming the instance's object, oldest first.
absl::StatusOr<std::vector<v1::AuditRecord>> KeyReleasesOf(const ExternalCluster& cluster,
                                                           const std::string& sop_instance_uid);

}  // namespace medvault::testing
