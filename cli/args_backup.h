// Arguments of `medvault backup`: take an encrypted backup of the metaserver and key service state
// from a running cluster (admin scope), or check one. Parsed here, not in args.cc.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace medvault::cli {

// `backup create --out FILE --backup_key KEYFILE`, `backup verify --in FILE --backup_key KEYFILE
// [--json]`.
struct BackupArgs {
  enum class Action { kCreate, kVerify };
  Action action = Action::kCreate;
  std::string path;      // create: --out; verify: --in
  std::string key_file;  // --backup_key
  bool json = false;     // verify
};

// `flags` as ParseArgs collected them. INVALID_ARGUMENT (a usage error) otherwise.
absl::Status FillBackup(const std::map<std::string, std::string>& flags,
                        const std::vector<std::string>& positionals, BackupArgs* out);

}  // namespace medvault::cli
