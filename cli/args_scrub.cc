// Parsing of `medvault scrub start [--server ID]` and `scrub status [--server ID] [--json]`.
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillScrub(const FlagValues& flags, const std::vector<std::string>& positionals,
                       Command* cmd) {
  ScrubArgs* out = &cmd->scrub;
  const std::string action = positionals.empty() ? "" : positionals[0];
  if (positionals.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrub: unexpected argument '", positionals[1], "'"));
  }
  if (flags.count("server")) {
    out->server_id = flags.at("server");
    if (out->server_id.empty()) return absl::InvalidArgumentError("scrub: --server needs an ID");
  }
  out->json = flags.count("json") > 0;
  if (action == "start") {
    if (out->json) return absl::InvalidArgumentError("scrub: --json goes with status");
    out->action = ScrubArgs::Action::kStart;
    return absl::OkStatus();
  }
  if (action == "status") {
    out->action = ScrubArgs::Action::kStatus;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("scrub: say start or status");
}

}  // namespace

const VerbSpec& ScrubVerb() {
  static const VerbSpec spec{Verb::kScrub,
                             "scrub",
                             {{"json", false}, {"server", true}},
                             FillScrub,
                             R"(  scrub start [--server ID]
      Start a scrub pass now on one chunk server (ID as `chunkserver list` prints it) or on every
      up one: each re-reads and verifies every chunk it stores; corrupt replicas (rot, a file
      holding another chunk's bytes) are quarantined, reported and repaired from good replicas.
      Needs the admin scope, as does status.
  scrub status [--server ID] [--json]
      Each chunk server's current or last pass: running or finished, chunks checked of the total,
      bad replicas found, when it started and finished.
)"};
  return spec;
}

}  // namespace medvault::cli
