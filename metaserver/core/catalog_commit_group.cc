// Group commit of instances: concurrent Commit calls share one Raft barrier and one replicated
// write. The first caller to find no group in flight leads: it takes up to kMaxCommitGroup queued
// commits (its own included), plans them in arrival order into one WriteBatchWithIndex (each plan
// reads the snapshot plus the plans before it, so counters, duplicate SOP Instance UIDs and ids
// reused within the group are seen), writes the batch once and hands every member its result.
// A commit whose plan fails is rolled back out of the batch alone; a failed write fails them all.
#include <rocksdb/comparator.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_mutations.h"

namespace medvault::metaserver {

struct Catalog::PendingCommit {
  const v1::InstanceTags* tags;
  const v1::ObjectManifest* manifest;
  int64_t now_micros;
  const v1::InstanceHeader* header;
  absl::StatusOr<CommitResult> result = absl::UnknownError("commit not run");
  bool done = false;
};

absl::StatusOr<CommitResult> Catalog::Commit(const v1::InstanceTags& tags,
                                             const v1::ObjectManifest& manifest, int64_t now_micros,
                                             const v1::InstanceHeader* header) {
  RETURN_IF_ERROR(ValidateCommit(tags, manifest));
  PendingCommit me{&tags, &manifest, now_micros, header};
  queue_mu_.Lock();
  queue_.push_back(&me);
  if (on_commit_queued_) on_commit_queued_(queue_.size());
  while (true) {
    while (!me.done && group_in_flight_) group_done_.Wait(&queue_mu_);
    if (me.done) break;
    // No group in flight and ours is still queued: lead the next group.
    group_in_flight_ = true;
    std::vector<PendingCommit*> group;
    while (!queue_.empty() && group.size() < kMaxCommitGroup) {
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    queue_mu_.Unlock();
    CommitGroup(group);
    queue_mu_.Lock();
    for (PendingCommit* member : group) member->done = true;
    group_in_flight_ = false;
    group_done_.SignalAll();
  }
  queue_mu_.Unlock();
  return std::move(me.result);
}

void Catalog::CommitGroup(const std::vector<PendingCommit*>& group) {
  if (on_commit_group_) on_commit_group_(group.size());
  absl::MutexLock lock(&mu_);
  absl::Status barrier = writer_->Barrier();
  if (!barrier.ok()) {
    for (PendingCommit* member : group) member->result = barrier;
    return;
  }
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  KvReader state(kv_, &batch);
  for (PendingCommit* member : group) {
    batch.SetSavePoint();
    member->result = PlanCommit(state, *member->tags, *member->manifest, member->now_micros, &batch,
                                member->header);
    if (member->result.ok()) {
      (void)batch.PopSavePoint();
    } else {
      (void)batch.RollbackToSavePoint();
    }
  }
  if (batch.GetWriteBatch()->Count() == 0) return;
  absl::Status written = Annotate(writer_->Write(batch.GetWriteBatch()), "committing instance");
  if (written.ok()) return;
  // Results planned on top of the batch (already_stored included) depend on it.
  for (PendingCommit* member : group) {
    if (member->result.ok()) member->result = written;
  }
}

}  // namespace medvault::metaserver
