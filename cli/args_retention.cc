#include "cli/args_retention.h"
#include "cli/args_verb.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace medvault::cli {

absl::Status FillRetention(const std::map<std::string, std::string>& flags,
                           const std::vector<std::string>& positionals, RetentionArgs* out) {
  auto has = [&](const char* name) { return flags.count(name) > 0; };
  const std::map<std::string, RetentionArgs::Action> actions = {
      {"set", RetentionArgs::Action::kSet},
      {"clear", RetentionArgs::Action::kClear},
      {"hold", RetentionArgs::Action::kHold},
      {"release", RetentionArgs::Action::kRelease},
      {"show", RetentionArgs::Action::kShow}};
  auto it = positionals.empty() ? actions.end() : actions.find(positionals[0]);
  if (it == actions.end())
    return absl::InvalidArgumentError("retention: say set, clear, hold, release or show");
  const std::string& action = positionals[0];
  if (positionals.size() != 2 || positionals[1].empty())
    return absl::InvalidArgumentError(absl::StrCat("retention ", action, ": give one STUDY UID"));
  out->action = it->second;
  out->study_uid = positionals[1];
  out->json = has("json");
  const bool set = out->action == RetentionArgs::Action::kSet;
  if (!set && (has("days") || has("after-last-share"))) {
    return absl::InvalidArgumentError("retention: --days and --after-last-share go with set");
  }
  if (out->json && out->action != RetentionArgs::Action::kShow)
    return absl::InvalidArgumentError("retention: --json goes with show");
  if (!set) return absl::OkStatus();
  if (has("days") == has("after-last-share"))
    return absl::InvalidArgumentError("retention set: give --days N or --after-last-share");
  if (has("days")) {
    uint32_t days;
    if (!absl::SimpleAtoi(flags.at("days"), &days) || days == 0 || days > 36500) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--days wants a number of days from 1 to 36500, not '", flags.at("days"), "'"));
    }
    out->days = days;
  }
  out->after_last_share = has("after-last-share");
  return absl::OkStatus();
}

namespace {

absl::Status FillRetentionVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                               Command* cmd) {
  return FillRetention(flags, positionals, &cmd->retention);
}

}  // namespace

const VerbSpec& RetentionVerb() {
  static const VerbSpec spec{Verb::kRetention,
                             "retention",
                             {{"json", false}, {"days", true}, {"after-last-share", false}},
                             FillRetentionVerb,
                             R"(  retention set STUDY --days N | --after-last-share
      Delete the study N days after it was stored, or once its last share has expired or been
      revoked; the metaserver deletes it as rm does (keys destroyed). Needs the delete scope, as
      does clear. A rule may name a study before it is stored.
  retention clear STUDY | retention show STUDY [--json]
  retention hold STUDY | retention release STUDY
      Place or release a legal hold: while held, nothing deletes the study (rm, retention).
      Needs the admin scope. find shows each study's rule and hold.
)"};
  return spec;
}

}  // namespace medvault::cli
