// Command-line parsing for the `medvault` client: turns argv into a Command (verb, its arguments,
// global options). Pure functions, no I/O, so every rule is unit-tested. A parse error is a usage
// error (exit 2); its message says what was wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/args_backup.h"
#include "cli/args_export.h"
#include "cli/args_raft.h"
#include "cli/args_retention.h"
#include "cli/args_share.h"
#include "common/tls.h"

namespace medvault::cli {

// The frontend address used when neither --frontend nor MEDVAULT_FRONTEND is given.
inline constexpr char kDefaultFrontend[] = "127.0.0.1:7600";
// Where the client certificate is looked for when no --tls_* flag is given and $MEDVAULT_TLS_DIR
// is unset: the tls/ folder of the local cluster scripts/cluster makes with its default data
// directory (./var/medvault), relative to the working directory as that default is.
inline constexpr char kDefaultTlsDir[] = "var/medvault/tls";
inline constexpr int kDefaultJobs = 4;
inline constexpr double kDefaultTimeoutSeconds = 60;

enum class Verb {
  kHelp,
  kPut,
  kGet,
  kFind,
  kRm,
  kHealth,
  kKek,
  kAudit,
  kChunkserver,
  kScrub,
  kFsck,
  kImport,
  kAttach,
  kRaft,
  kShare,
  kExport,
  kBackup,
  kRetention
};

struct GlobalOptions {
  std::string frontend;                                            // host:port of the ImageStore
  absl::Duration timeout = absl::Seconds(kDefaultTimeoutSeconds);  // deadline of each RPC
  // Transport security. Either insecure_plaintext, or mutual TLS with `tls`: the flags' files, or
  // DIR/ca.crt, DIR/client.crt, DIR/client.key of the default directory (tls_from_default_dir).
  TlsFiles tls;
  bool tls_from_default_dir = false;
  bool insecure_plaintext = false;
  // Name the server's certificate must carry (subjectAltName): --tls_server_name, else "frontend"
  // for the verbs that call the frontend and empty for health (which may ask any service, so only
  // the CA signature and the dialled host are checked).
  std::string tls_server_name;
};

struct PutArgs {
  std::vector<std::string> paths;  // files or folders, as given
  int jobs = kDefaultJobs;         // files stored concurrently
  bool quiet = false;              // no per-file line for successes
};

// Exactly one of instance_uid / study_uid is set.
struct GetArgs {
  std::string instance_uid;
  std::string study_uid;
  std::string output;       // FILE (instance) or DIR (study)
  uint64_t offset = 0;      // instance only
  uint64_t length = 0;      // instance only; 0 means to the end
  int jobs = kDefaultJobs;  // study only: instances fetched concurrently
  bool quiet = false;       // study only: no per-instance line for successes
  bool document = false;    // instance only: write the encapsulated document, not the instance
};

struct FindArgs {
  std::string patient_id;
  std::string modality;   // upper-cased
  std::string date_from;  // YYYYMMDD or empty
  std::string date_to;    // YYYYMMDD or empty
  uint64_t limit = 0;     // 0: no limit
  bool json = false;
};

// Exactly one of study_uid / instance_uid is set.
struct RmArgs {
  std::string study_uid;
  std::string instance_uid;
};

struct HealthArgs {
  std::vector<std::string> addresses;
  absl::Duration wait = absl::ZeroDuration();  // zero: check once
};

// `kek status`, `kek rotate VERSION [--wait S]`, `kek retire VERSION`.
struct KekArgs {
  enum class Action { kStatus, kRotate, kRetire };
  Action action = Action::kStatus;
  uint32_t version = 0;
  absl::Duration wait = absl::ZeroDuration();  // rotate: follow the rewrap up to this long
};

// `audit [--object HEX] [--since T] [--until T] [--limit N] [--json]`.
struct AuditArgs {
  bool verify = false;       // `audit verify [--sign] [--json]` (cli/args_audit.cc)
  bool sign = false;         // verify: sign the current head first
  std::string object_id;     // 16 bytes (given as 32 hex digits), or empty
  int64_t since_micros = 0;  // 0: from the start
  int64_t until_micros = 0;  // 0: until now
  uint64_t limit = 0;        // 0: every matching record
  bool json = false;
};

// `audit verify [--sign] [--json]`: fills `out` from the flags given (names without dashes).
absl::Status FillAuditVerify(const std::map<std::string, std::string>& flags,
                             const std::vector<std::string>& positionals, AuditArgs* out);

// `chunkserver list [--json]`, `chunkserver drain ID [--undo]`.
struct ChunkserverArgs {
  enum class Action { kList, kDrain };
  Action action = Action::kList;
  std::string server_id;  // drain: as `chunkserver list` prints it
  bool undo = false;      // drain: stop draining
  bool json = false;      // list
};

// `scrub start [--server ID]`, `scrub status [--server ID] [--json]`.
struct ScrubArgs {
  enum class Action { kStart, kStatus };
  Action action = Action::kStatus;
  std::string server_id;  // empty: every chunk server
  bool json = false;      // status
};

// `fsck [--json]`.
struct FsckArgs {
  bool json = false;
};

// `import PATH [--jobs N] [--quiet]`.
struct ImportArgs {
  std::string path;         // a folder or mounted medium, a ZIP file or an ISO image
  int jobs = kDefaultJobs;  // files stored concurrently
  bool quiet = false;       // no progress bar
};

// `attach --study UID FILE [--type pdf|cda|ccr|hl7v2|rtf|text]`.
struct AttachArgs {
  std::string study_uid;
  std::string path;
  std::string type;  // empty: guessed from the content
};

struct Command {
  Verb verb = Verb::kHelp;
  GlobalOptions global;
  PutArgs put;
  GetArgs get;
  FindArgs find;
  RmArgs rm;
  HealthArgs health;
  KekArgs kek;
  AuditArgs audit;
  ChunkserverArgs chunkserver;
  ScrubArgs scrub;
  FsckArgs fsck;
  ImportArgs import;
  AttachArgs attach;
  RaftArgs raft;
  ShareArgs share;
  ExportArgs export_;
  BackupArgs backup;
  RetentionArgs retention;
};

// Parses the arguments after the program name. `default_frontend` is what --frontend defaults to
// (main passes $MEDVAULT_FRONTEND or kDefaultFrontend); `default_tls_dir` is where the CA and
// client certificate are taken from when no --tls_* flag and no --insecure_plaintext is given
// (main passes $MEDVAULT_TLS_DIR or kDefaultTlsDir). Flags may come before or after the verb,
// as "--flag value" or "--flag=value"; "--" ends flags. "help", "--help" and "-h" give kHelp.
// Errors: INVALID_ARGUMENT (a usage error) for no verb, an unknown verb or flag, a flag missing its
// value, a bad number or date, or a missing or contradictory argument (some --tls_* flags but not
// all three, or --tls_* with --insecure_plaintext).
absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args,
                                  absl::string_view default_frontend,
                                  absl::string_view default_tls_dir = kDefaultTlsDir);

// The usage text printed by `medvault help`.
std::string UsageText();

// The arguments of `import` (cli/args_import.cc): one PATH; `jobs` was parsed from --jobs.
absl::Status FillImport(const std::vector<std::string>& positionals, int jobs, bool quiet,
                        ImportArgs* import);

// The arguments of `attach` (cli/args_attach.cc): one FILE, --study required, --type if given.
absl::Status FillAttach(const std::vector<std::string>& positionals, const std::string& study,
                        const std::string& type, AttachArgs* attach);

// Name of a verb as typed ("put", ...); "help" for kHelp.
absl::string_view VerbName(Verb verb);

}  // namespace medvault::cli
