#include "cli/args_share.h"
#include "cli/args_verb.h"

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medvault::cli {

absl::StatusOr<int64_t> ParseExpiry(const std::string& value) {
  std::string digits = value;
  int64_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'd':
        unit = 86400;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        break;
      default:
        unit = 0;
    }
    if (unit != 0) digits.pop_back();
    if (unit == 0) unit = 1;
  }
  int64_t n;
  if (digits.empty() || !absl::SimpleAtoi(digits, &n) || n <= 0 || n > 1000 * 86400 / unit) {
    return absl::InvalidArgumentError(
        absl::StrCat("--expires wants a duration like 30d, 12h, 90m or 3600s, not '", value, "'"));
  }
  return n * unit;
}

absl::Status FillShare(const std::map<std::string, std::string>& flags,
                       const std::vector<std::string>& positionals, ShareArgs* out) {
  auto has = [&](const char* name) { return flags.count(name) > 0; };
  const std::string action = positionals.empty() ? "" : positionals[0];
  const bool create = action == "create";
  if (!create) {
    for (const char* name : {"study", "expires", "max-uses", "no-download", "label"}) {
      if (has(name))
        return absl::InvalidArgumentError(absl::StrCat("share: --", name, " goes with create"));
    }
  }
  out->json = has("json");
  if (create) {
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("share create: unexpected argument '", positionals[1], "'"));
    }
    if (!has("study")) return absl::InvalidArgumentError("share create: give --study UID");
    for (absl::string_view uid : absl::StrSplit(flags.at("study"), '\n')) {
      if (uid.empty()) return absl::InvalidArgumentError("share create: --study must not be empty");
      out->study_uids.emplace_back(uid);
    }
    if (has("expires")) {
      absl::StatusOr<int64_t> seconds = ParseExpiry(flags.at("expires"));
      if (!seconds.ok()) return seconds.status();
      out->expires_seconds = *seconds;
    }
    if (has("max-uses")) {
      uint32_t n;
      if (!absl::SimpleAtoi(flags.at("max-uses"), &n) || n == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--max-uses wants a positive integer, not '", flags.at("max-uses"), "'"));
      }
      out->max_uses = n;
    }
    out->no_download = has("no-download");
    if (has("label")) out->label = flags.at("label");
    out->action = ShareArgs::Action::kCreate;
    return absl::OkStatus();
  }
  if (action == "list") {
    if (positionals.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("share list: unexpected argument '", positionals[1], "'"));
    }
    out->action = ShareArgs::Action::kList;
    return absl::OkStatus();
  }
  const std::map<std::string, ShareArgs::Action> named = {{"show", ShareArgs::Action::kShow},
                                                          {"revoke", ShareArgs::Action::kRevoke},
                                                          {"unlock", ShareArgs::Action::kUnlock},
                                                          {"log", ShareArgs::Action::kLog}};
  auto it = named.find(action);
  if (it == named.end())
    return absl::InvalidArgumentError("share: say create, list, show, revoke, unlock or log");
  if (positionals.size() != 2 || positionals[1].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("share ", action, ": give one access CODE or share ID"));
  }
  out->action = it->second;
  out->share = positionals[1];
  return absl::OkStatus();
}

namespace {

absl::Status FillShareVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                           Command* cmd) {
  return FillShare(flags, positionals, &cmd->share);
}

}  // namespace

const VerbSpec& ShareVerb() {
  static const VerbSpec spec{
      Verb::kShare,
      "share",
      {{"study", true, /*repeated=*/true},
       {"json", false},
       {"expires", true},
       {"max-uses", true},
       {"no-download", false},
       {"label", true}},
      FillShareVerb,
      R"(  share create --study UID [--study UID...] [--expires 30d] [--max-uses N] [--no-download]
               [--label TEXT] [--json]
      Share studies with a recipient: prints an access code and a PIN, once (only their hashes are
      kept). The recipient enters both on the frontend's HTTPS page. Five wrong PINs lock the
      share. --expires: 1m to 365d (default 30d). Needs the write scope, as does revoke.
  share list [--json] | share show SHARE | share revoke SHARE | share log SHARE [--json]
      SHARE is the share id `list` prints (or the access code). revoke ends the share and any
      session open on it; log lists every redemption and access (when, from where, what, result,
      and the precise reason of each refusal).
  share unlock SHARE
      Clear the wrong-PIN count of a locked share. Needs the admin scope.
)"};
  return spec;
}

}  // namespace medvault::cli
