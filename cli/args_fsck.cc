// Parsing of `medvault fsck [--json]`.
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillFsck(const FlagValues& flags, const std::vector<std::string>& positionals,
                      Command* cmd) {
  if (absl::Status s = NoPositionals(Verb::kFsck, positionals); !s.ok()) return s;
  cmd->fsck.json = flags.count("json") > 0;
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& FsckVerb() {
  static const VerbSpec spec{Verb::kFsck,
                             "fsck",
                             {{"json", false}},
                             FillFsck,
                             R"(  fsck [--json]
      Check the index: list every stored instance whose index entry breaks the index's rules
      (a UID that is not a valid DICOM UID, a value indexed as a hex dump, a field longer than
      its VR allows), as written before those rules were enforced. Exit 1 if any is found.
      Needs the admin scope.
)"};
  return spec;
}

}  // namespace medvault::cli
