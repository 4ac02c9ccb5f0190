#include "metaserver/core/scrub_control.h"

#include "absl/strings/str_cat.h"

namespace medvault::metaserver {
namespace {

// The registered servers `server_id` names (all when empty); NOT_FOUND when it names none.
absl::StatusOr<std::vector<v1::ChunkServerStatus>> Selected(const ChunkServerRegistry& registry,
                                                            absl::string_view server_id) {
  std::vector<v1::ChunkServerStatus> out;
  for (v1::ChunkServerStatus& s : registry.List()) {
    if (server_id.empty() || s.server().server_id() == server_id) out.push_back(std::move(s));
  }
  if (!server_id.empty() && out.empty()) {
    return absl::NotFoundError(absl::StrCat("chunk server ", server_id, " is not registered"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> StartScrubs(const ChunkServerRegistry& registry,
                                                     ChunkServerClient* client,
                                                     absl::string_view server_id) {
  absl::StatusOr<std::vector<v1::ChunkServerStatus>> servers = Selected(registry, server_id);
  if (!servers.ok()) return servers.status();
  std::vector<std::string> started;
  absl::Status first_error;
  for (const v1::ChunkServerStatus& s : *servers) {
    const std::string& id = s.server().server_id();
    if (!s.up()) {
      if (!server_id.empty())
        return absl::UnavailableError(absl::StrCat("chunk server ", id, " is down"));
      continue;
    }
    absl::Status r = client->StartScrub(s.server().address());
    if (r.ok()) {
      started.push_back(id);
    } else if (first_error.ok()) {
      first_error = absl::Status(r.code(), absl::StrCat("chunk server ", id, ": ", r.message()));
    }
  }
  if (!first_error.ok()) return first_error;
  return started;
}

absl::StatusOr<v1::GetScrubStatusMetaResponse> GatherScrubStatus(
    const ChunkServerRegistry& registry, ChunkServerClient* client, absl::string_view server_id) {
  absl::StatusOr<std::vector<v1::ChunkServerStatus>> servers = Selected(registry, server_id);
  if (!servers.ok()) return servers.status();
  v1::GetScrubStatusMetaResponse out;
  for (const v1::ChunkServerStatus& s : *servers) {
    v1::ServerScrubStatus* entry = out.add_servers();
    entry->set_server_id(s.server().server_id());
    if (!s.up()) {
      entry->set_error("down");
      continue;
    }
    absl::StatusOr<v1::ScrubStatus> status = client->GetScrubStatus(s.server().address());
    if (status.ok()) {
      *entry->mutable_status() = std::move(*status);
    } else {
      entry->set_error(status.status().ToString());
    }
  }
  return out;
}

}  // namespace medvault::metaserver
