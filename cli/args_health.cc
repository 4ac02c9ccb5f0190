// Parsing of `medvault health ADDR... [--wait SECONDS]`.
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillHealth(const FlagValues& flags, const std::vector<std::string>& positionals,
                        Command* cmd) {
  if (positionals.empty()) return absl::InvalidArgumentError("health: no ADDR given");
  cmd->health.addresses = positionals;
  if (flags.count("wait")) {
    auto seconds = ParseSeconds("wait", flags.at("wait"), /*allow_zero=*/true);
    if (!seconds.ok()) return seconds.status();
    cmd->health.wait = absl::Seconds(*seconds);
  }
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& HealthVerb() {
  static const VerbSpec spec{Verb::kHealth,
                             "health",
                             {{"wait", true}},
                             FillHealth,
                             R"(  health ADDR... [--wait SECONDS]
      Ask each medvault server whether it is SERVING; with --wait, keep trying until all are
      or the time runs out. Exit 0 iff all are serving.
)"};
  return spec;
}

}  // namespace medvault::cli
