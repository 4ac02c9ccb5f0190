// Parsing of `medvault kek status|rotate VERSION [--wait SECONDS]|retire VERSION`.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/args_verb.h"

namespace medvault::cli {
namespace {

absl::Status FillKek(const FlagValues& flags, const std::vector<std::string>& positionals,
                     Command* cmd) {
  KekArgs* out = &cmd->kek;
  if (positionals.empty())
    return absl::InvalidArgumentError("kek: say status, rotate VERSION or retire VERSION");
  const std::string& action = positionals[0];
  if (action == "status") {
    out->action = KekArgs::Action::kStatus;
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("kek status: unexpected argument '", positionals[1], "'"));
    }
  } else if (action == "rotate" || action == "retire") {
    out->action = action == "rotate" ? KekArgs::Action::kRotate : KekArgs::Action::kRetire;
    uint32_t version = 0;
    if (positionals.size() != 2 || !absl::SimpleAtoi(positionals[1], &version) || version == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("kek ", action, ": give one positive KEK VERSION"));
    }
    out->version = version;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("kek: unknown action '", action, "' (status, rotate, retire)"));
  }
  if (flags.count("wait")) {
    if (out->action != KekArgs::Action::kRotate) {
      return absl::InvalidArgumentError("kek: --wait goes with rotate");
    }
    auto seconds = ParseSeconds("wait", flags.at("wait"), /*allow_zero=*/true);
    if (!seconds.ok()) return seconds.status();
    out->wait = absl::Seconds(*seconds);
  }
  return absl::OkStatus();
}

}  // namespace

const VerbSpec& KekVerb() {
  static const VerbSpec spec{Verb::kKek,
                             "kek",
                             {{"wait", true}},
                             FillKek,
                             R"(  kek status
      Master-key (KEK) versions: which one wraps new keys, how many keys each wraps, and how many
      are left to rewrap. Needs the admin scope, as do the two below.
  kek rotate VERSION [--wait SECONDS]
      Make VERSION (a KEK file every key service replica holds) the one that wraps new keys, and
      rewrap every stored key under it in the background; --wait follows the progress.
  kek retire VERSION
      Retire a version no key uses any more; its key file can then be deleted.
)"};
  return spec;
}

}  // namespace medvault::cli
