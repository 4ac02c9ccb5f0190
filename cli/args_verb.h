// How a verb plugs into ParseArgs (cli/args.cc): the flags it takes besides the global ones, the
// parsing of what the command line gave it, and its lines of the usage text. Each verb defines its
// VerbSpec in its own cli/args_<verb>.cc; args.cc lists them once, in the order of the usage text.
// A new verb: its enum value (args.h), its file, its declaration below, one line in args.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/args.h"

namespace medvault::cli {

// Flag values as given (names without dashes), last occurrence wins; a switch's value is "true";
// the values of a repeated flag are joined by '\n'.
using FlagValues = std::map<std::string, std::string>;

struct VerbFlag {
  const char* name;       // without dashes
  bool takes_value;       // "--name VALUE" or "--name=VALUE"; otherwise a switch
  bool repeated = false;  // may be given more than once (joined by '\n'); else the last wins
};

struct VerbSpec {
  Verb verb;
  const char* name;             // as typed
  std::vector<VerbFlag> flags;  // valid with this verb, besides the global flags
  // Fills the verb's part of `cmd` (global options are already filled); nullptr for help.
  // INVALID_ARGUMENT (a usage error) for anything missing, extra or malformed.
  absl::Status (*fill)(const FlagValues& flags, const std::vector<std::string>& positionals,
                       Command* cmd);
  const char* usage;  // its lines under "Verbs:" in the usage text
};

const VerbSpec& PutVerb();          // cli/args_put.cc
const VerbSpec& GetVerb();          // cli/args_get.cc
const VerbSpec& FindVerb();         // cli/args_find.cc
const VerbSpec& RmVerb();           // cli/args_rm.cc
const VerbSpec& KekVerb();          // cli/args_kek.cc
const VerbSpec& AuditVerb();        // cli/args_audit.cc
const VerbSpec& ChunkserverVerb();  // cli/args_chunkserver.cc
const VerbSpec& ScrubVerb();        // cli/args_scrub.cc
const VerbSpec& FsckVerb();         // cli/args_fsck.cc
const VerbSpec& ImportVerb();       // cli/args_import.cc
const VerbSpec& ExportVerb();       // cli/args_export.cc
const VerbSpec& AttachVerb();       // cli/args_attach.cc
const VerbSpec& RaftVerb();         // cli/args_raft.cc
const VerbSpec& ShareVerb();        // cli/args_share.cc
const VerbSpec& BackupVerb();       // cli/args_backup.cc
const VerbSpec& RetentionVerb();    // cli/args_retention.cc
const VerbSpec& HealthVerb();       // cli/args_health.cc

// Every verb, in the order of the usage text (cli/args.cc).
const std::vector<const VerbSpec*>& AllVerbs();

// Value parsers shared by the verbs (cli/args_values.cc). Each error names the flag, and quotes
// what was typed (a UID never reaches these: they parse numbers, dates and times).

// The value of `name`, or "" when it was not given.
std::string FlagValue(const FlagValues& flags, const std::string& name);
// A number of seconds ("5", "2.5", "5s"), at most 1e7; above 0 unless allow_zero.
absl::StatusOr<double> ParseSeconds(absl::string_view flag, const std::string& value,
                                    bool allow_zero);
// A non-negative integer.
absl::StatusOr<uint64_t> ParseCount(absl::string_view flag, const std::string& value);
// --jobs: 1 to 256, kDefaultJobs when absent.
absl::StatusOr<int> ParseJobs(const FlagValues& flags);
// YYYYMMDD or YYYY-MM-DD; returns YYYYMMDD.
absl::StatusOr<std::string> ParseDate(absl::string_view flag, const std::string& value);
// RFC 3339 ("2026-11-23T13:00:00Z") or seconds since the Unix epoch; returns microseconds.
absl::StatusOr<int64_t> ParseTimeFlag(absl::string_view flag, const std::string& value);
// "VERB: unexpected argument 'X'" when there is any positional.
absl::Status NoPositionals(Verb verb, const std::vector<std::string>& positionals);
// "VERB: --NAME must not be empty" when NAME was given as "".
absl::Status RequireNonEmpty(Verb verb, const FlagValues& flags, const std::string& name);

}  // namespace medvault::cli
