#include "cli/args_backup.h"
#include "cli/args_verb.h"

#include "absl/strings/str_cat.h"

namespace medvault::cli {
namespace {

std::string Flag(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto it = flags.find(name);
  return it == flags.end() ? "" : it->second;
}

}  // namespace

absl::Status FillBackup(const std::map<std::string, std::string>& flags,
                        const std::vector<std::string>& p, BackupArgs* out) {
  const std::string action = p.empty() ? "" : p[0];
  if (p.size() > 1)
    return absl::InvalidArgumentError(absl::StrCat("backup: unexpected argument '", p[1], "'"));
  out->key_file = Flag(flags, "backup_key");
  out->json = flags.count("json") > 0;
  const bool has_out = flags.count("out") > 0, has_in = flags.count("in") > 0;
  if (action == "create") {
    out->action = BackupArgs::Action::kCreate;
    if (has_in || out->json)
      return absl::InvalidArgumentError("backup create: takes --out FILE, not --in or --json");
    out->path = Flag(flags, "out");
  } else if (action == "verify") {
    out->action = BackupArgs::Action::kVerify;
    if (has_out) return absl::InvalidArgumentError("backup verify: takes --in FILE, not --out");
    out->path = Flag(flags, "in");
  } else {
    return absl::InvalidArgumentError("backup: say create or verify");
  }
  if (out->path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("backup ", action, ": give the backup file (",
                                                   action == "create" ? "--out" : "--in",
                                                   " FILE)"));
  }
  if (out->key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup ", action,
                     ": give the backup key (--backup_key FILE: 32 random bytes, mode 0600)"));
  }
  return absl::OkStatus();
}

namespace {

absl::Status FillBackupVerb(const FlagValues& flags, const std::vector<std::string>& positionals,
                            Command* cmd) {
  return FillBackup(flags, positionals, &cmd->backup);
}

}  // namespace

const VerbSpec& BackupVerb() {
  static const VerbSpec spec{Verb::kBackup,
                             "backup",
                             {{"json", false}, {"out", true}, {"in", true}, {"backup_key", true}},
                             FillBackupVerb,
                             R"(  backup create --out FILE --backup_key KEYFILE
      Copy the metaserver's and the key service's state from the running cluster into FILE,
      encrypted (AES-256-GCM) with the backup key in KEYFILE (32 random bytes, mode 0600); data
      keys stay wrapped under the master keys. Needs the admin scope. Restore: docs/operations.md.
  backup verify --in FILE --backup_key KEYFILE [--json]
      Open a backup with its key and say what it holds; exit 1 if it does not authenticate.
)"};
  return spec;
}

}  // namespace medvault::cli
