// The metaserver's index and manifests: studies, series and instances indexed from DICOM tags,
// object manifests, chunk references and deletion tombstones, all in RocksDB (layout in
// catalog_keys.h). Every mutation is computed from (database snapshot, request, time) by a planner
// in catalog_mutations.h and applied as ONE synchronous WriteBatch, so a failure leaves nothing
// half-written and a later Raft issue can replicate the same batches.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"
#include "medvault/v1/common.pb.h"
#include "medvault/v1/metaserver.pb.h"
#include "medvault/v1/metaserver_store.pb.h"
#include "metaserver/core/catalog_results.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {

struct InstanceRecord {
  v1::InstanceInfo info;
  v1::ObjectManifest manifest;
};

struct StudyDetail {
  v1::StudySummary study;
  // Ordered by series number then UID; each with its instances ordered by instance number then UID.
  std::vector<v1::SeriesInfo> series;
};

struct TombstoneEntry {
  std::string object_id;
  v1::Tombstone tombstone;
};

// One stored instance record breaking one of the index's rules (common/index_fields.h).
struct IndexProblem {
  std::string sop_instance_uid;  // the record's key, as stored
  std::string study_uid;         // as stored
  std::string attribute;
  std::string rule;
};

struct IndexCheckPage {
  std::vector<IndexProblem> problems;
  uint64_t scanned = 0;
  std::string next_page_token;  // empty at the end
};

// What one BackfillStudies call did.
struct BackfillPage {
  uint64_t scanned = 0;            // study records examined
  uint64_t studies_fixed = 0;      // studies given an index entry or summary field
  uint64_t accession_entries = 0;  // accession-number index entries written
  uint64_t summaries = 0;          // summaries given StudyTime or PatientSex
  std::string next_page_token;     // empty at the end
};

// Study records one BackfillStudies call examines at most.
inline constexpr size_t kMaxBackfillStudies = 1000;

// A study's retention record as the retention task sees it (catalog_retention.cc).
struct RetentionEntry {
  std::string study_uid;
  v1::StoredRetention record;
  // When the study was first stored; 0 when it is not stored (a rule set before it arrives).
  int64_t ingested_at_micros = 0;
  // Why the study is due for deletion now ("30 days after ingest", "last share ended"); empty when
  // it is not (a hold does not change this: the task counts held studies that are due).
  std::string due_reason;
};

// What SetRetention and SetLegalHold answer.
struct RetentionAnswer {
  v1::RetentionInfo info;
  bool study_stored = false;
};

// A deletion by the retention task: the objects whose keys are to be destroyed and why.
struct RetentionDeletion {
  DeleteResult result;
  std::string reason;
  std::string rule_set_by;
};

// Bounds of a retention rule.
inline constexpr uint32_t kMaxRetentionDays = 36500;

// Instance records one CheckIndex call examines at most.
inline constexpr size_t kMaxIndexCheckScan = 10000;

// Page sizes of FindStudies.
inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;
// A FindStudies page also ends before its summaries pass this many bytes (it holds at least one),
// so no answer nears the gRPC message limit even with summaries stored before index fields had
// length limits. Summaries within the limits (common/index_fields.h) take under 1 KiB each.
inline constexpr size_t kMaxPageBytes = 1 << 20;

// The largest header data set a commit may carry (the frontend does not send larger ones), and
// the header bytes one GetInstanceHeaders page holds at most (well under the gRPC limit).
inline constexpr size_t kMaxHeaderBytes = 64 << 10;
inline constexpr size_t kMaxHeaderPageBytes = 2 << 20;

// At most this many commits share one group (one barrier, one replicated write).
inline constexpr size_t kMaxCommitGroup = 256;

// Thread-safe: mutations are serialised by a mutex; reads use RocksDB snapshots and take no lock.
// Concurrent Commit calls are group-committed: while one group is being written, the commits that
// arrive queue up, and the next group plans them all (each seeing the ones before it) into one
// batch, written with one Raft round (catalog_commit_group.cc).
class Catalog {
 public:
  // `kv` must have been opened with MetaserverColumnFamilies(). Writes go through `writer` (null:
  // straight to `kv`). Both must outlive the catalog.
  explicit Catalog(KvStore* kv, BatchWriter* writer = nullptr);
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Stores one instance: instance record, manifest, chunk references, series and study records and
  // every index entry, in one durable write (shared with the commits grouped with it; a failed
  // write fails every commit of its group, and none of them becomes visible). INVALID_ARGUMENT on
  // a malformed request (missing or NUL-containing UIDs, bad ids, no chunks, sha256 not 32 bytes);
  // ALREADY_EXISTS when the SOP Instance UID is stored with a different sha256, or the object/chunk
  // ids are already in use.
  // `header` (optional) is stored in the instance's row (WADO-RS /metadata); INVALID_ARGUMENT
  // when its data set exceeds kMaxHeaderBytes.
  absl::StatusOr<CommitResult> Commit(const v1::InstanceTags& tags,
                                      const v1::ObjectManifest& manifest, int64_t now_micros,
                                      const v1::InstanceHeader* header = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_, queue_mu_);

  // Called with the size of each commit group before it is planned (metrics; tests use it to
  // know when commits are queued). Set before the first Commit.
  void set_on_commit_group(std::function<void(size_t)> fn) { on_commit_group_ = std::move(fn); }
  // Called with the queue length each time a commit joins the queue. Set before the first Commit.
  void set_on_commit_queued(std::function<void(size_t)> fn) { on_commit_queued_ = std::move(fn); }

  // NOT_FOUND when absent or deleted.
  absl::StatusOr<InstanceRecord> GetInstance(absl::string_view sop_instance_uid) const;

  // Studies matching `query`, in the order of the secondary index serving it: the patient index
  // when patient_id is set, else the accession index when accession_number is set, else the
  // modality index when modality is set, else the date index (study_range.h).
  // A page size of 0 means 100; above 1000 means 1000; a page also ends before kMaxPageBytes of
  // summaries. INVALID_ARGUMENT for a page token that does
  // not belong to the query, or a criterion containing NUL.
  absl::StatusOr<v1::StudyPage> FindStudies(const v1::StudyQuery& query) const;

  // Series (instances) matching `query`, each with its study, ordered by the study index serving
  // the query (as FindStudies chooses it), then series UID (then SOP Instance UID). Page sizes as
  // FindStudies. INVALID_ARGUMENT for a page token that does not belong to the query, or a
  // criterion containing NUL or longer than 1024 bytes. catalog_find.cc.
  absl::StatusOr<v1::SeriesPage> FindSeries(const v1::LevelQuery& query) const;
  absl::StatusOr<v1::InstancePage> FindInstances(const v1::LevelQuery& query) const;

  // The instance records after `after` (empty: from the start) that break the index's rules, at
  // most `scan_limit` records examined (0 or above kMaxIndexCheckScan: kMaxIndexCheckScan).
  // catalog_fsck.cc.
  absl::StatusOr<IndexCheckPage> CheckIndex(absl::string_view after, size_t scan_limit) const;

  // Writes what the study records after `after` (empty: from the start) lack because an older
  // metaserver committed them: the accession-number index entry, and the summary's StudyTime and
  // PatientSex (from the study record, else the first instance of its first series), examining
  // at most `max_studies` (0 or above kMaxBackfillStudies: kMaxBackfillStudies) in one write
  // through the writer (the Raft group). Idempotent: nothing is written for a study that has
  // them. catalog_backfill.cc.
  absl::StatusOr<BackfillPage> BackfillStudies(absl::string_view after, size_t max_studies)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every page of BackfillStudies, summed.
  absl::StatusOr<BackfillPage> BackfillAllStudies() ABSL_LOCKS_EXCLUDED(mu_);

  // NOT_FOUND when the study is absent.
  absl::StatusOr<StudyDetail> GetStudy(absl::string_view study_uid) const;

  // The instances of a study (of one series, of one instance) with their stored headers, a page
  // of at most kMaxHeaderPageBytes of headers (at least one instance) at a time, in series then
  // SOP Instance UID order. NOT_FOUND when nothing matches; INVALID_ARGUMENT for a malformed UID
  // or a token of another request. catalog_headers.cc.
  absl::StatusOr<v1::GetInstanceHeadersResponse> GetInstanceHeaders(
      const v1::GetInstanceHeadersRequest& request) const;

  // Removes the study's (instance's) index entries, records and manifests and writes a tombstone
  // per object, in one durable write; chunk references stay until RemoveTombstone. NOT_FOUND when
  // neither the study (instance) nor any of its unconfirmed tombstones exists.
  absl::StatusOr<DeleteResult> DeleteStudy(absl::string_view study_uid, int64_t now_micros)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<DeleteResult> DeleteInstance(absl::string_view sop_instance_uid,
                                              int64_t now_micros) ABSL_LOCKS_EXCLUDED(mu_);

  // Marks these tombstones' keys destroyed (and drops the UIDs they kept). Unknown ids are ignored,
  // so a retry after the tombstone was reclaimed succeeds.
  absl::Status ConfirmKeysDestroyed(const std::vector<std::string>& object_ids)
      ABSL_LOCKS_EXCLUDED(mu_);

  // True while a stored or tombstoned object references the chunk.
  absl::StatusOr<bool> IsChunkReferenced(absl::string_view chunk_id) const;

  // Up to `limit` tombstones whose keys are destroyed, in object-id order.
  absl::StatusOr<std::vector<TombstoneEntry>> ListDestroyedTombstones(size_t limit) const;
  // All tombstones (keys destroyed or not).
  absl::StatusOr<uint64_t> CountTombstones() const;

  // Deletes a tombstone and its chunk references atomically. FAILED_PRECONDITION while its key is
  // not confirmed destroyed; OK when it is already gone.
  absl::Status RemoveTombstone(absl::string_view object_id) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Retention and legal holds (catalog_retention.cc) ---

  // Sets (with `clear`, removes) the study's retention rule; the study need not be stored yet.
  // INVALID_ARGUMENT for a malformed UID or a rule with both or neither condition or days outside
  // 1..kMaxRetentionDays; FAILED_PRECONDITION while the retention task is deleting the study.
  absl::StatusOr<RetentionAnswer> SetRetention(absl::string_view study_uid,
                                               const v1::RetentionRule& rule, bool clear,
                                               absl::string_view actor, int64_t now_micros)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Places or releases a legal hold: while held, DeleteStudy, DeleteInstance and the retention
  // task refuse (FAILED_PRECONDITION). Errors as SetRetention.
  absl::StatusOr<RetentionAnswer> SetLegalHold(absl::string_view study_uid, bool hold,
                                               absl::string_view actor, int64_t now_micros)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every retention record (after a barrier: the leader's current state), with whether it is due
  // at `now_micros`.
  absl::StatusOr<std::vector<RetentionEntry>> ListRetention(int64_t now_micros) const;
  // Removes a due study from the index exactly as DeleteStudy does and marks its retention record
  // deleting, in one write; for a record already deleting, returns the objects whose keys still
  // await destruction. The rule is checked again under the catalog's lock: FAILED_PRECONDITION
  // when the study is held or no longer due, NOT_FOUND when no record or nothing is left.
  absl::StatusOr<RetentionDeletion> DeleteForRetention(absl::string_view study_uid,
                                                       int64_t now_micros) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops a deleting retention record once none of its study's keys awaits destruction.
  absl::Status FinishRetention(absl::string_view study_uid) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `write` (a new share's one write) under the lock every retention deletion holds from its
  // check of the study's shares to its write, once each of `study_uids` is checked stored and not
  // being deleted: so no study is deleted "after its last share" while a share of it is being
  // made. NOT_FOUND when a study is not stored, FAILED_PRECONDITION when one is being deleted
  // (neither names the study); otherwise `write`'s status.
  absl::Status WhileStudiesKept(const std::vector<std::string>& study_uids,
                                const std::function<absl::Status()>& write)
      ABSL_LOCKS_EXCLUDED(mu_);

  // --- Replica bookkeeping (repair; catalog_replicas.cc) ---

  // A consistent view of every manifest as of now, for one repair pass.
  std::unique_ptr<KvReader> Snapshot() const { return std::make_unique<KvReader>(kv_); }
  // Calls fn(manifest) for every stored object's manifest in `snapshot`, until fn returns false.
  // DATA_LOSS when a record does not parse.
  static absl::Status ForEachManifest(const KvReader& snapshot,
                                      const std::function<bool(const v1::ObjectManifest&)>& fn);

  // Sets the replica servers of chunk `chunk_index` of object `object_id` to `new_servers`, if
  // they are still exactly `expected_servers` (a compare-and-set against concurrent repairs,
  // deletions and leader changes). FAILED_PRECONDITION when the object is gone or the chunk's
  // servers changed; INVALID_ARGUMENT when new_servers is empty or the chunk id does not match.
  absl::Status ReplaceChunkServers(absl::string_view object_id, uint32_t chunk_index,
                                   absl::string_view chunk_id,
                                   const std::vector<std::string>& expected_servers,
                                   const std::vector<std::string>& new_servers)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct PendingCommit;
  // Reads the study's retention record (empty when absent), applies `change` and writes it (or
  // deletes it when it holds nothing). FAILED_PRECONDITION while it is deleting.
  absl::StatusOr<RetentionAnswer> UpdateRetention(
      absl::string_view study_uid, const std::function<void(v1::StoredRetention&)>& change)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Under mu_ and after the writer's barrier, reads the study's retention record (empty and
  // found false when absent) and returns fn(state, record, found).
  absl::Status WithRetentionRecord(
      absl::string_view study_uid,
      const std::function<absl::Status(const KvReader& state, v1::StoredRetention& record,
                                       bool found)>& fn) ABSL_LOCKS_EXCLUDED(mu_);
  // Plans and writes `group` (under mu_) and sets every member's result.
  void CommitGroup(const std::vector<PendingCommit*>& group) ABSL_LOCKS_EXCLUDED(mu_);

  KvStore* const kv_;
  KvBatchWriter default_writer_;
  BatchWriter* const writer_;
  // Serialises read-plan-write of every mutation.
  mutable absl::Mutex mu_;

  // The commit queue: whoever finds no group in flight takes the queue's head as the next group.
  absl::Mutex queue_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::CondVar group_done_;
  std::deque<PendingCommit*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool group_in_flight_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::function<void(size_t)> on_commit_group_;
  std::function<void(size_t)> on_commit_queued_;
};

}  // namespace medvault::metaserver
