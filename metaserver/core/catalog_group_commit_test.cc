// Group commit: concurrent commits share one write, see each other's effects, fail alone when
// their own plan fails and together when the shared write fails.
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "metaserver/testing/catalog_test_util.h"

namespace medvault::metaserver {
namespace {

using testing::CatalogTestBase;
using testing::Manifest;
using testing::Tags;

// Holds its first Write until released; fails the calls listed in `fail_calls` (1-based).
class GatedWriter : public BatchWriter {
 public:
  GatedWriter(KvStore* kv, std::set<int> fail_calls)
      : kv_(kv), fail_calls_(std::move(fail_calls)) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    int call;
    {
      absl::MutexLock lock(&mu_);
      call = ++calls_;
    }
    if (call == 1) {
      first_entered_.Notify();
      release_.WaitForNotification();
    }
    if (fail_calls_.count(call) > 0) return absl::UnavailableError("injected write failure");
    return kv_->Write(batch);
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  absl::Notification first_entered_;
  absl::Notification release_;

 private:
  KvStore* const kv_;
  const std::set<int> fail_calls_;
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class GroupCommitTest : public CatalogTestBase {
 protected:
  // Rebuilds the catalog over a gated writer and queues `commits` behind a first commit that is
  // held in its write; returns once all of them wait in the queue, then releases the first write
  // and joins. Results in commit order.
  std::vector<absl::StatusOr<CommitResult>> CommitBehindHeldWrite(
      std::set<int> fail_calls,
      const std::vector<std::pair<v1::InstanceTags, v1::ObjectManifest>>& commits) {
    gated_ = std::make_unique<GatedWriter>(kv_.get(), std::move(fail_calls));
    catalog_ = std::make_unique<Catalog>(kv_.get(), gated_.get());
    // The queue's order is the order the commits are applied in, so each one is started only
    // after the one before it is queued: the outcome of, say, two writes of one UID then depends
    // on their index, not on thread scheduling.
    absl::Mutex queued_mu;
    size_t queued = 0;
    catalog_->set_on_commit_queued([&](size_t n) {
      absl::MutexLock lock(&queued_mu);
      queued = n;
    });
    struct AtLeast {
      const size_t* queued;
      size_t n;
      bool Reached() const { return *queued >= n; }
    };
    auto wait_queued = [&](size_t n) {
      AtLeast want{&queued, n};
      absl::MutexLock lock(&queued_mu);
      queued_mu.Await(absl::Condition(&want, &AtLeast::Reached));
    };
    std::vector<size_t> group_sizes;
    absl::Mutex sizes_mu;
    catalog_->set_on_commit_group([&](size_t size) {
      absl::MutexLock lock(&sizes_mu);
      group_sizes.push_back(size);
    });

    std::thread first([&] {
      EXPECT_TRUE(catalog_->Commit(Tags("1.1", "1.1.1", "1.1.1.99"), Manifest(), now_).ok());
    });
    gated_->first_entered_.WaitForNotification();
    std::vector<absl::StatusOr<CommitResult>> results(commits.size(),
                                                      absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < commits.size(); ++i) {
      threads.emplace_back(
          [&, i] { results[i] = catalog_->Commit(commits[i].first, commits[i].second, now_); });
      wait_queued(i + 1);  // the first commit left the queue when it led its own group
    }
    gated_->release_.Notify();
    first.join();
    for (std::thread& t : threads) t.join();
    // The hooks capture locals of this function; nothing commits concurrently any more.
    catalog_->set_on_commit_queued(nullptr);
    catalog_->set_on_commit_group(nullptr);
    absl::MutexLock lock(&sizes_mu);
    group_sizes_ = group_sizes;
    return results;
  }

  std::unique_ptr<GatedWriter> gated_;
  std::vector<size_t> group_sizes_;
};

TEST_F(GroupCommitTest, QueuedCommitsShareOneWriteAndSeeEachOther) {
  std::vector<std::pair<v1::InstanceTags, v1::ObjectManifest>> commits;
  for (int i = 0; i < 6; ++i) {
    commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.5" + std::to_string(i)), Manifest(100 + i));
  }
  v1::ObjectManifest dup = Manifest(100);  // same sha256 as sop0: an identical re-send
  commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.50"), dup);
  commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.51"), Manifest(999));  // other content: conflict
  v1::ObjectManifest reused = Manifest(500);
  *reused.mutable_chunks(0)->mutable_chunk_id() = commits[2].second.chunks(0).chunk_id();
  commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.7"), reused);  // fails alone
  commits.emplace_back(Tags("1.2", "1.2.1", "1.2.1.7", "PAT2"), Manifest(7));

  std::vector<absl::StatusOr<CommitResult>> r = CommitBehindHeldWrite({}, commits);

  EXPECT_EQ(gated_->calls(), 2) << "the queued commits must share one write";
  ASSERT_EQ(group_sizes_.size(), 2u);
  EXPECT_EQ(group_sizes_[1], commits.size());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(r[i].ok()) << i << ": " << r[i].status();
    EXPECT_FALSE(r[i]->already_stored);
  }
  ASSERT_TRUE(r[6].ok()) << r[6].status();
  EXPECT_TRUE(r[6]->already_stored);
  EXPECT_EQ(r[7].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r[8].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(r[9].ok()) << r[9].status();

  // Counters include every member exactly once; the failed one left nothing behind.
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1.1");
  ASSERT_TRUE(study.ok()) << study.status();
  EXPECT_EQ(study->study.instance_count(), 7u);  // "first" + sop0..sop5
  ASSERT_EQ(study->series.size(), 1u);
  EXPECT_EQ(study->series[0].instance_count(), 7u);
  EXPECT_EQ(catalog_->GetInstance("1.1.1.7").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CountKeys(kManifestsCf), 8u);  // first, sop0..5, other-study
  EXPECT_EQ(CountKeys(kInstancesCf), 8u);
  absl::StatusOr<InstanceRecord> sop1 = catalog_->GetInstance("1.1.1.51");
  ASSERT_TRUE(sop1.ok());
  EXPECT_EQ(sop1->manifest.object_id(), commits[1].second.object_id());
}

TEST_F(GroupCommitTest, FailedSharedWriteFailsEveryMemberAndShowsNothing) {
  std::vector<std::pair<v1::InstanceTags, v1::ObjectManifest>> commits;
  for (int i = 0; i < 4; ++i)
    commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.5" + std::to_string(i)), Manifest(i + 1));
  v1::ObjectManifest same_as_sop0 = commits[0].second;
  same_as_sop0.set_object_id(RandomBytes(16).value());
  for (int i = 0; i < same_as_sop0.chunks_size(); ++i) {
    same_as_sop0.mutable_chunks(i)->set_chunk_id(RandomBytes(16).value());
  }
  commits.emplace_back(Tags("1.1", "1.1.1", "1.1.1.50"),
                       same_as_sop0);  // "already stored" only within the group

  std::vector<absl::StatusOr<CommitResult>> r = CommitBehindHeldWrite({2}, commits);

  EXPECT_EQ(gated_->calls(), 2);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].status().code(), absl::StatusCode::kUnavailable) << i << ": " << r[i].status();
  }
  EXPECT_EQ(CountKeys(kInstancesCf), 1u);  // only "first"
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1.1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.instance_count(), 1u);
  // A retry of the same requests succeeds.
  for (const auto& [tags, manifest] : commits) {
    EXPECT_TRUE(catalog_->Commit(tags, manifest, now_).ok());
  }
  EXPECT_EQ(catalog_->GetStudy("1.1")->study.instance_count(), 5u);
}

TEST_F(GroupCommitTest, ManyConcurrentWritersKeepCountersExact) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string sop = absl::StrCat("1.1.9.", t, ".", i);
        const std::string series = absl::StrCat("1.1.", i % 3);
        absl::StatusOr<CommitResult> r =
            catalog_->Commit(Tags("1.1", series, sop), Manifest(10, 1, sop), now_);
        EXPECT_TRUE(r.ok()) << r.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<StudyDetail> study = catalog_->GetStudy("1.1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->study.instance_count(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(study->study.series_count(), 3u);
  uint64_t in_series = 0;
  for (const v1::SeriesInfo& s : study->series) in_series += s.instance_count();
  EXPECT_EQ(in_series, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(writer_->writes(), kThreads * kPerThread);
}

}  // namespace
}  // namespace medvault::metaserver
