// Parsing of `medvault rm --study UID | --instance UID`.
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillRm(const FlagValues& flags, const std::vector<std::string>& positionals,
                    Command* cmd) {
  if (absl::Status s = NoPositionals(Verb::kRm, positionals); !s.ok()) return s;
  for (const char* name : {"instance", "study"}) {
    if (absl::Status s = RequireNonEmpty(Verb::kRm, flags, name); !s.ok()) return s;
  }
  cmd->rm.study_uid = FlagValue(flags, "study");
  cmd->rm.instance_uid = FlagValue(flags, "instance");
  if (cmd->rm.study_uid.empty() == cmd->rm.instance_uid.empty()) {
    return absl::InvalidArgumentError("rm: give exactly one of --study UID or --instance UID");
  }
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& RmVerb() {
  static const VerbSpec spec{Verb::kRm,
                             "rm",
                             {{"instance", true}, {"study", true}},
                             FillRm,
                             R"(  rm --study UID | --instance UID
      Delete a study or one instance (its keys are destroyed; this cannot be undone).
)"};
  return spec;
}

}  // namespace medvault::cli
