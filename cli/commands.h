// The verbs of the `medvault` client. Each Run* function carries out one parsed command against an
// ImageStore stub (a real channel in main, an in-process fake in tests), prints results on `out`
// and progress/errors on `err`, and returns the process exit code. The lower-level functions
// (PutFile, FetchInstance, FindAllStudies, CheckHealth) are the building blocks, usable alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/args.h"
#include "cli/retry.h"
#include "common/env.h"
#include "common/tls.h"
#include "medvault/v1/admin.grpc.pb.h"
#include "medvault/v1/image_store.grpc.pb.h"

namespace medvault::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Pieces a file is streamed in by `put`.
inline constexpr size_t kPutPieceBytes = 1 << 20;

// What the verbs need. Nothing is owned; all pointers must outlive the call.
struct CommandContext {
  v1::ImageStore::StubInterface* stub = nullptr;  // unused by health
  v1::Admin::StubInterface* admin = nullptr;      // kek, audit, chunkserver and scrub
  Filesystem* fs = nullptr;                       // where get writes
  std::ostream* out = nullptr;                    // results: tables, JSON, health lines
  std::ostream* err = nullptr;                    // progress, summaries, errors
  absl::Duration timeout = absl::Seconds(kDefaultTimeoutSeconds);  // deadline of each RPC
  const TransportSecurity* security = nullptr;  // how health dials; required by health only
  std::string server_name;  // health: name the servers' certificates must carry; empty: the host
  // How retried calls wait between attempts (cli/retry.h): on the channel in main, so that it
  // reconnects meanwhile; a plain sleep over an in-process fake.
  RetryPause retry_pause = SleepBetweenAttempts;
};

// Sets the deadline of one RPC to now + timeout.
inline void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

// ---- put ----

// Streams one file to PutInstance in kPutPieceBytes pieces. Returns the server's answer; errors
// are the server's status, or a local one (NOT_FOUND, PERMISSION_DENIED, ...) when the file cannot
// be read, in which case no instance is stored.
absl::StatusOr<v1::PutInstanceResponse> PutFile(v1::ImageStore::StubInterface& stub,
                                                const std::string& path, absl::Duration timeout);

// Like PutFile, with the bytes from `read` (replaces *piece with the next at most max_bytes; empty
// at the end). An error from `read` cancels the call, so nothing is stored.
absl::StatusOr<v1::PutInstanceResponse> PutStream(
    v1::ImageStore::StubInterface& stub,
    const std::function<absl::Status(size_t max_bytes, std::string* piece)>& read,
    absl::Duration timeout);

// `medvault put`: collects the files, stores them args.jobs at a time, prints one line per file
// and a summary on err. Exit 1 if any file failed.
int RunPut(const CommandContext& ctx, const PutArgs& args);

// ---- get ----

// Streams instance `sop_instance_uid` (or the byte range [offset, offset+length), length 0 meaning
// to the end) to `path` as ResolveOutput (files.h) decides: a new name or regular file (a symbolic
// link's target) is written as .partial, synced, then renamed over it, so on any error neither the
// file nor the partial one is left changed; a FIFO or character device is written into in place.
// Checks that the pieces are contiguous and, for a whole instance, its size and SHA-256 against
// the server's InstanceInfo (DATA_LOSS otherwise). Returns the number of bytes written.
absl::StatusOr<uint64_t> FetchInstance(v1::ImageStore::StubInterface& stub, Filesystem& fs,
                                       const std::string& sop_instance_uid, uint64_t offset,
                                       uint64_t length, const std::string& path,
                                       absl::Duration timeout,
                                       const RetryPause& pause = SleepBetweenAttempts);

// `medvault get`: one instance to a file, or a whole study to DIR/<series>/<sop>.dcm.
int RunGet(const CommandContext& ctx, const GetArgs& args);

// ---- find ----

// Pages through FindStudies until the server has no more or `args.limit` (when non-zero) studies
// were collected.
absl::StatusOr<std::vector<v1::StudySummary>> FindAllStudies(
    v1::ImageStore::StubInterface& stub, const FindArgs& args, absl::Duration timeout,
    const RetryPause& pause = SleepBetweenAttempts);

// `medvault find`: the studies as a table (or JSON with --json) on out.
int RunFind(const CommandContext& ctx, const FindArgs& args);

// ---- rm ----

int RunRm(const CommandContext& ctx, const RmArgs& args);

// ---- health ----

// grpc.health.v1 Check (empty service name) against `address`, dialled with `security` (the
// server's certificate must name `server_name`, or the dialled host when it is empty). With a
// non-zero `wait`, keeps trying until the server answers SERVING or `wait` has passed, waiting for
// the connection (wait-for-ready) rather than failing fast. Returns the last answer's status name
// ("SERVING", "NOT_SERVING", ...), or the last RPC error.
absl::StatusOr<std::string> CheckHealth(const std::string& address,
                                        const TransportSecurity& security,
                                        absl::string_view server_name, absl::Duration wait,
                                        absl::Duration timeout);

// `medvault health`: "ADDR SERVING" (or the state / error) per address on out; exit 0 iff all
// are serving. REQUIRES: ctx.security.
int RunHealth(const CommandContext& ctx, const HealthArgs& args);

// ---- import ----

// `medvault import PATH`: stores the instances of a folder, mounted disc, ZIP file or ISO image
// (those its DICOMDIR references, else every DICOM file), args.jobs at a time, with a progress bar
// on stderr when it is a terminal; prints the summary (stored, already stored, refused with each
// reason) on out. Exit 1 if anything was refused or the medium could not be read.
int RunImport(const CommandContext& ctx, const ImportArgs& args);

// ---- attach ----

// `medvault attach`: checks the document, takes the study's attributes from the index (GetStudy;
// NOT_FOUND when it is not stored), stores the Encapsulated Document instance, prints its SOP
// Instance UID on out. Exit 1 on any error, with nothing stored.
int RunAttach(const CommandContext& ctx, const AttachArgs& args);
// `medvault get --instance UID --document -o FILE`: the document, byte-exact, written whole.
int RunGetDocument(const CommandContext& ctx, const GetArgs& args);

// Reads the whole GetInstance stream of `sop_instance_uid` (from offset, length bytes; 0: to the
// end) into `file`, checking offsets, the size and (for a whole instance) the SHA-256 the server
// announced. Sets *written. Leaves the call finished. (cli/get.cc; `export` uses it too.)
absl::Status ReceiveInstance(v1::ImageStore::StubInterface& stub, WritableFile& file,
                             const std::string& sop_instance_uid, uint64_t offset, uint64_t length,
                             absl::Duration timeout, uint64_t* written);

// ---- export ----

// `medvault export`: writes the studies (GetStudy, then each instance through GetInstance) as an
// IHE PDI medium (common/media/pdi.h) to args.out, with a progress bar on stderr when it is a
// terminal; prints a summary on out. Exit 1 on any error (the partial medium is left as it is).
int RunExport(const CommandContext& ctx, const ExportArgs& args);

// ---- dispatch ----

// Runs a parsed command against cmd.global.frontend (a real channel secured as cmd.global says),
// with the real filesystem. kHelp prints the usage on out. When the TLS files cannot be loaded it
// prints why on err (with a hint when they were the default ones) and returns kExitFailure.
// ---- kek, audit (the frontend's Admin service; admin scope) ----

// status prints the versions table; rotate (with --wait, follows the rewrap until no key is left);
// retire. Exit 1 on any error.
int RunKek(const CommandContext& ctx, const KekArgs& args);
// Prints matching audit records oldest first, one line (or JSON object) each, paging through all.
int RunAudit(const CommandContext& ctx, const AuditArgs& args);
int RunAuditVerify(const CommandContext& ctx, const AuditArgs& args);

// ---- chunkserver (the frontend's Admin service; admin scope) ----

// list prints one line (or JSON object) per registered chunk server; drain starts or (--undo)
// stops draining one. Exit 1 on any error.
int RunChunkserver(const CommandContext& ctx, const ChunkserverArgs& args);
// Lists the index entries that break the index's rules (Admin.CheckIndex, every page); exit 1
// when there is any, or on an error.
int RunFsck(const CommandContext& ctx, const FsckArgs& args);

// ---- scrub (the frontend's Admin service; admin scope) ----

// `scrub start|status`: on-demand scrub passes on the chunk servers and their progress.
int RunScrub(const CommandContext& ctx, const ScrubArgs& args);

// ---- raft (the frontend's Admin service; admin scope) ----

// `raft status|add|remove|transfer-leader`: the metaserver and key service groups (cli/raft.cc).
int RunRaft(const CommandContext& ctx, const RaftArgs& args);

// ---- share (cli/share.cc) ----

int RunShare(const CommandContext& ctx, const ShareArgs& args);

// ---- backup (cli/backup.cc; create needs the admin scope) ----

int RunBackup(const CommandContext& ctx, const BackupArgs& args);

// ---- retention (cli/retention.cc) ----

int RunRetention(const CommandContext& ctx, const RetentionArgs& args);

int RunCommand(const Command& cmd, std::ostream& out, std::ostream& err);

}  // namespace medvault::cli
