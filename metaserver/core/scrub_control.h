// On-demand scrubs (`medvault scrub start|status`): the metaserver asks one chunk server, or every
// up one, to start a scrub pass now, and gathers their progress. The passes themselves, and the
// reports and repairs of the corrupt replicas they find, are the chunk servers' scrubbers and the
// repairer's usual work.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/metaserver.pb.h"
#include "metaserver/core/clients.h"
#include "metaserver/core/registry.h"

namespace medvault::metaserver {

// Starts a pass on `server_id` (NOT_FOUND when unknown, UNAVAILABLE when down) or, when empty, on
// every up server (their first error, once every server was asked). Returns the servers started.
absl::StatusOr<std::vector<std::string>> StartScrubs(const ChunkServerRegistry& registry,
                                                     ChunkServerClient* client,
                                                     absl::string_view server_id);

// The progress of `server_id` (NOT_FOUND when unknown) or of every registered server; a server
// that cannot be asked has `error` set.
absl::StatusOr<v1::GetScrubStatusMetaResponse> GatherScrubStatus(
    const ChunkServerRegistry& registry, ChunkServerClient* client, absl::string_view server_id);

}  // namespace medvault::metaserver
