// The key service's audit log: one record per key generation, release, destruction, KEK rotation or
// retirement, and per refused call, with caller identity, objects, purpose, outcome and time. Kept
// in the key service's RocksDB in column families the Raft group replicates, append-only (nothing
// in medvault deletes or rewrites a record), indexed by time and by object. Every record is also
// emitted as one structured log line.
#pragma once

#include <rocksdb/write_batch.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "common/kv.h"
#include "medvault/v1/keyservice.pb.h"

namespace medvault::keyservice {

// Records: key = time (8 bytes, big-endian micros) || 8 random bytes; value = v1::AuditRecord.
inline constexpr char kAuditColumnFamily[] = "audit";
// Index: key = object id (16 bytes) || record key; value empty.
inline constexpr char kAuditByObjectColumnFamily[] = "audit_by_object";
inline constexpr uint32_t kMaxAuditQueryLimit = 1000;

// Who asked for a key operation and why, as recorded.
struct AuditInfo {
  std::string caller;        // "role/name" of the calling service, or "unauthenticated"
  std::string on_behalf_of;  // the end client the caller acts for, when it says
  std::string purpose;       // the public API method, or the refused method for a denial
  std::string peer;          // the end client's network address, when the caller gives it
};

// Thread-safe.
class AuditLog {
 public:
  // `kv` (opened with both column families), `writer` and `clock` must outlive the log. Appends
  // go through `writer`; queries take its barrier first.
  AuditLog(KvStore* kv, KvWriter* writer, Clock* clock);

  // A record for `op` by `who` with the clock's time, made strictly later than the previous
  // record of this process so records keep their order; the caller fills the rest.
  v1::AuditRecord NewRecord(absl::string_view op, const AuditInfo& who) ABSL_LOCKS_EXCLUDED(mu_);

  // Adds `record` and its per-object index entries to `batch`, so it commits (or not) together
  // with the operation it describes. INTERNAL only if random bytes cannot be drawn.
  absl::Status Stage(const v1::AuditRecord& record, rocksdb::WriteBatch* batch);

  // Writes `record` on its own, durably and replicated. The writer's error when it cannot.
  absl::Status Append(const v1::AuditRecord& record);

  // Commits `batch`, which holds a record Stage()d with the operation it describes, through the
  // writer. The writer's error when it cannot; then the operation did not happen either.
  absl::Status Commit(rocksdb::WriteBatch* batch);

  // Called (on the failing thread) each time Append() or Commit() could not write, e.g. to count
  // failed audit writes. REQUIRES: set before the log is used concurrently.
  void set_on_write_failure(std::function<void()> hook) { on_write_failure_ = std::move(hook); }

  // The structured log line of a record (done by the caller once the outcome is known):
  // "audit op=release caller=frontend/frontend on_behalf_of=client/viewer purpose=GetInstance
  //  kek_version=1 result=OK objects=<n> object_ids=<hex,...>".
  static void Log(const v1::AuditRecord& record);

  // Records matching `request`, oldest first. INVALID_ARGUMENT for an object id that is not 16
  // bytes, a limit above kMaxAuditQueryLimit, a bad page token or an empty time range.
  absl::StatusOr<v1::QueryAuditResponse> Query(const v1::QueryAuditRequest& request);

 private:
  KvStore* const kv_;
  KvWriter* const writer_;
  Clock* const clock_;
  absl::Mutex mu_;
  int64_t last_time_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> on_write_failure_;
};

}  // namespace medvault::keyservice
