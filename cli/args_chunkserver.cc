// Parsing of `medvault chunkserver list [--json]` and `chunkserver drain ID [--undo]`.
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillChunkserver(const FlagValues& flags, const std::vector<std::string>& positionals,
                             Command* cmd) {
  ChunkserverArgs* out = &cmd->chunkserver;
  const std::string action = positionals.empty() ? "" : positionals[0];
  if (action == "list") {
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunkserver list: unexpected argument '", positionals[1], "'"));
    }
    if (flags.count("undo"))
      return absl::InvalidArgumentError("chunkserver: --undo goes with drain");
    out->action = ChunkserverArgs::Action::kList;
    out->json = flags.count("json") > 0;
    return absl::OkStatus();
  }
  if (action == "drain") {
    if (positionals.size() != 2 || positionals[1].empty()) {
      return absl::InvalidArgumentError(
          "chunkserver drain: give one server ID (see `medvault chunkserver list`)");
    }
    if (flags.count("json"))
      return absl::InvalidArgumentError("chunkserver: --json goes with list");
    out->action = ChunkserverArgs::Action::kDrain;
    out->server_id = positionals[1];
    out->undo = flags.count("undo") > 0;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("chunkserver: say list or drain ID");
}

}  // namespace

const VerbSpec& ChunkserverVerb() {
  static const VerbSpec spec{Verb::kChunkserver,
                             "chunkserver",
                             {{"json", false}, {"undo", false}},
                             FillChunkserver,
                             R"(  chunkserver list [--json]
      The chunk servers the metaserver knows: id, address, failure domain, used and free space,
      whether up, and draining or drained. Needs the admin scope, as does drain.
  chunkserver drain ID [--undo]
      Decommission a chunk server: it gets no new chunks and its replicas are copied elsewhere;
      once `chunkserver list` says drained it can be switched off. --undo takes it back.
)"};
  return spec;
}

}  // namespace medvault::cli
