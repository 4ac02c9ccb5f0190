// Checks a service's real access policy, role by role and method by method, against the table a
// test writes out. The methods come from the service's proto descriptor, so an rpc added to the
// proto without a line in the test's table fails the test instead of slipping by.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/access_policy.h"

namespace medvault::testing {

// Client names holding exactly one scope each: "reader" read, "writer" write, "deleter" delete,
// "admin" admin. Give them to a policy that serves clients (the frontend's).
ClientScopes OneScopeClients();

// Every kind of caller a policy must tell apart: each service role, each client of
// OneScopeClients(), a client holding no scope, a role no service has, and an unauthenticated
// caller. Named by PeerIdentity::ToString(): "frontend/frontend", "client/reader".
std::vector<PeerIdentity> AllCallers();

// Method -> callers (PeerIdentity::ToString()) that may call it; every other caller must be
// refused.
using PolicyTable = std::map<std::string, std::set<std::string>>;

// Differences between `policy` and `table` over every rpc of the proto services named in
// `services` ("medvault.v1.KeyService") and every caller of AllCallers(), one line each
// ("GetDataKey: chunkserver/chunkserver allowed, table says refused"); also methods the services
// lack or the table does not list. Empty when they agree.
std::vector<std::string> PolicyTableMismatches(const AccessPolicy& policy,
                                               const std::vector<std::string>& services,
                                               const PolicyTable& table);

}  // namespace medvault::testing
