// Issue 3's real-process claims, with the real binaries over mutual TLS: the metaserver and the key
// service each run as a Raft group of 3 (log compacted every 50 entries, so snapshots are in play)
// while client threads store distinct real DICOM instances through the frontend and read each
// back: two patient ones, and one that gives up on a put after a second, so that some puts fail
// midway and the test can check they are never half-visible. Then, under that load:
//   1. kill -9 the metaserver leader; the load resumes once a new leader is elected;
//   2. kill -9 a metaserver follower (two of three are now down: nothing can commit), restart both;
//   3. kill -9 the key service leader, restart it;
//   4. wipe a metaserver follower's data directory and restart it: it rejoins from a snapshot and
//      catches up; then kill -9 the leader, so progress needs the rejoined replica's vote and log.
// For every kill the unavailability window is measured and printed: from the kill to the first
// acknowledgement of a put that started after it (puts in flight at the kill could finish without
// the dead process, so they do not count). At the end every acknowledged put reads back
// bit-exact, every failed put is either whole or NOT_FOUND, and the study's listing holds exactly
// the readable instances: nothing is half-visible.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"

namespace medvault {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ExternalCluster;
using testing::ReadWholeFile;

// The loose bound asserted for each window; the target (3 s with default timeouts) is
// printed beside the measured value rather than asserted, so a loaded CI machine does not fail.
constexpr auto kMaxUnavailable = std::chrono::seconds(10);
constexpr uint64_t kSnapshotEntries = 50;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One put the load made, acknowledged or not.
struct PutRecord {
  std::string uid;
  std::string study_uid;  // as the frontend read it, when acknowledged
  std::string sha256;
  Clock::time_point start, end;
  absl::Status status;
};

// Client threads storing distinct instances through the frontend, each reading back what it just
// stored. Records every put and every read-after-acknowledgement that saw the wrong thing.
class Load {
 public:
  // One thread per entry of `put_timeouts`, each giving up on a put after its timeout.
  Load(const ExternalCluster& cluster, const testing::DicomInstanceFactory& factory,
       std::vector<std::chrono::milliseconds> put_timeouts)
      : cluster_(cluster), factory_(factory), put_timeouts_(std::move(put_timeouts)) {}
  ~Load() { Stop(); }

  void Start() {
    // A fresh prefix per run keeps UIDs distinct even if a data directory were reused.
    run_ = absl::StrCat(std::random_device()() % 1000000);
    for (size_t t = 0; t < put_timeouts_.size(); ++t) workers_.emplace_back([this, t] { Run(t); });
  }

  void Stop() {
    stop_ = true;
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  // Waits until `n` puts in all were acknowledged.
  bool WaitForAcks(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acked_ >= n; });
  }

  // Waits for the first acknowledged put that started at or after `since`; its acknowledgement
  // time, or nullopt after `timeout`.
  std::optional<Clock::time_point> WaitForAckStartedAfter(Clock::time_point since,
                                                          std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<Clock::time_point> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const PutRecord& r : records_) {
        if (r.status.ok() && r.start >= since && (!found || r.end < *found)) found = r.end;
      }
      return found.has_value();
    });
    return found;
  }

  // The first acknowledgement of any put after `t` (possibly one in flight at `t`).
  std::optional<Clock::time_point> FirstAckAfter(Clock::time_point t) {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<Clock::time_point> found;
    for (const PutRecord& r : records_) {
      if (r.status.ok() && r.end >= t && (!found || r.end < *found)) found = r.end;
    }
    return found;
  }

  // REQUIRES: Stop() was called.
  const std::vector<PutRecord>& records() const { return records_; }
  const std::vector<std::string>& read_errors() const { return read_errors_; }
  uint64_t reads_ok() const { return reads_ok_; }
  uint64_t reads_unavailable() const { return reads_unavailable_; }

 private:
  void Run(size_t thread) {
    auto stub = v1::ImageStore::NewStub(cluster_.Channel(cluster_.frontend(), kFrontendPeer));
    for (uint64_t n = 0; !stop_; ++n) {
      PutRecord r;
      // pydicom's UID root, then this run, thread and sequence number.
      r.uid = absl::StrCat("1.2.826.0.1.3680043.8.498.", run_, ".", thread + 1, ".", n + 1);
      absl::StatusOr<std::string> bytes = factory_.WithSopInstanceUid(r.uid);
      if (!bytes.ok()) {
        Record(std::move(r), bytes.status());
        return;
      }
      r.sha256 = Sha256(*bytes);
      r.start = Clock::now();
      absl::StatusOr<v1::PutInstanceResponse> put =
          testing::PutInstance(stub.get(), *bytes, put_timeouts_[thread]);
      r.end = Clock::now();
      absl::Status status = put.status();
      if (put.ok() && (put->sop_instance_uid() != r.uid || put->size() != bytes->size() ||
                       put->already_stored())) {
        status = absl::InternalError("put acknowledged with the wrong identifiers");
      }
      if (put.ok()) r.study_uid = put->study_uid();
      const std::string uid = r.uid, sha = r.sha256;
      Record(std::move(r), status);
      if (!status.ok()) {
        // Puts block inside the frontend while a group elects, so failures are rare; pace them.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      // Read what was just acknowledged: it must be there, whole (UNAVAILABLE during a failover
      // is allowed; NOT_FOUND or other bytes never are).
      absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), uid);
      std::lock_guard<std::mutex> lock(mu_);
      if (got.ok() && Sha256(*got) == sha) {
        ++reads_ok_;
      } else if (!got.ok() &&
                 (absl::IsUnavailable(got.status()) || absl::IsDeadlineExceeded(got.status()))) {
        ++reads_unavailable_;
      } else {
        read_errors_.push_back(
            absl::StrCat(uid, ": ", got.ok() ? "wrong bytes" : got.status().ToString()));
      }
    }
  }

  void Record(PutRecord r, absl::Status status) {
    r.status = std::move(status);
    std::lock_guard<std::mutex> lock(mu_);
    if (r.status.ok()) ++acked_;
    records_.push_back(std::move(r));
    cv_.notify_all();
  }

  const ExternalCluster& cluster_;
  const testing::DicomInstanceFactory& factory_;
  const std::vector<std::chrono::milliseconds> put_timeouts_;
  std::string run_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t acked_ = 0;
  std::vector<PutRecord> records_;
  std::vector<std::string> read_errors_;
  uint64_t reads_ok_ = 0, reads_unavailable_ = 0;
};

class RaftFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ClusterOptions options;
    options.replicas = 3;
    const std::string snapshots = absl::StrCat("--raft_snapshot_entries=", kSnapshotEntries);
    options.metaserver_flags = {snapshots};
    options.keyservice_flags = {snapshots};
    // One data key per put, so every put needs the key service's leader (a batch would hide a
    // key service failover behind keys already fetched) and its log compacts often too.
    options.frontend_flags = {"--dek_batch=1"};
    cluster_ = std::make_unique<ExternalCluster>(options);
    absl::Status started = cluster_->Start();
    ASSERT_TRUE(started.ok()) << started;
    factory_ = std::make_unique<testing::DicomInstanceFactory>(
        ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
    // A put takes some 50 ms here; the impatient client's second runs out only during failovers.
    load_ = std::make_unique<Load>(
        *cluster_, *factory_,
        std::vector<std::chrono::milliseconds>{std::chrono::seconds(60), std::chrono::seconds(60),
                                               std::chrono::seconds(1)});
  }

  void TearDown() override {
    if (load_) load_->Stop();
    if (!HasFailure() || !cluster_) return;
    // The cluster's directory goes away with it: show how each group saw the run.
    for (const char* service : {"metaserver", "keyservice"}) {
      for (const std::string& name : cluster_->Replicas(service)) {
        std::printf("---- %s\n%s", cluster_->LogFileOf(name).c_str(),
                    ReadWholeFile(cluster_->LogFileOf(name)).c_str());
      }
    }
  }

  std::string Leader(const std::string& service) {
    absl::StatusOr<std::string> leader = cluster_->LeaderOf(service);
    EXPECT_TRUE(leader.ok()) << leader.status();
    return leader.value_or("");
  }

  // A running replica of `service` other than its leader.
  std::string Follower(const std::string& service) {
    const std::string leader = Leader(service);
    for (const std::string& name : cluster_->Replicas(service)) {
      if (name != leader && cluster_->IsRunning(name)) return name;
    }
    ADD_FAILURE() << "no running follower of " << service;
    return "";
  }

  uint64_t Gauge(const std::string& name, const std::string& metric) {
    absl::StatusOr<double> v = cluster_->Metric(name, metric);
    EXPECT_TRUE(v.ok()) << name << " " << metric << ": " << v.status();
    return static_cast<uint64_t>(v.value_or(0));
  }

  // Waits until `name`'s applied index reaches `index` (its metrics are the only view of it).
  bool WaitForApplied(const std::string& name, const std::string& service, uint64_t index,
                      std::chrono::seconds timeout) {
    const std::string metric = absl::StrCat("medvault_", service, "_raft_applied_index");
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      absl::StatusOr<double> v = cluster_->Metric(name, metric);
      if (v.ok() && static_cast<uint64_t>(*v) >= index) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Measures the unavailability after a kill at `killed`: waits for the load to make progress,
  // prints the window, and checks it against the loose bound.
  void ExpectRecovers(const std::string& what, Clock::time_point killed) {
    std::optional<Clock::time_point> ack =
        load_->WaitForAckStartedAfter(killed, std::chrono::seconds(60));
    if (!ack) {
      ADD_FAILURE() << what << ": no put acknowledged within 60 s";
      return;
    }
    const double window = Seconds(*ack - killed);
    std::optional<Clock::time_point> any = load_->FirstAckAfter(killed);
    std::printf(
        "%s: unavailable for %.2f s (target 3 s; first acknowledgement of any put after %.2f s)\n",
        what.c_str(), window, any ? Seconds(*any - killed) : -1.0);
    std::fflush(stdout);
    EXPECT_LT(*ack - killed, kMaxUnavailable) << what;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  std::unique_ptr<testing::DicomInstanceFactory> factory_;
  std::unique_ptr<Load> load_;
};

TEST_F(RaftFailoverTest, KillsAndAWipedReplicaLoseNoAcknowledgedPut) {
  const auto test_start = Clock::now();
  load_->Start();
  // Enough puts that both groups compacted their logs a few times before the first kill.
  ASSERT_TRUE(load_->WaitForAcks(3 * kSnapshotEntries, std::chrono::seconds(120)))
      << "the load never got going";

  // 1. The metaserver leader dies; a new one is elected and the load resumes.
  const std::string meta_leader = Leader("metaserver");
  ASSERT_FALSE(meta_leader.empty());
  auto killed = Clock::now();
  ASSERT_TRUE(cluster_->Kill(meta_leader).ok());
  ExpectRecovers("metaserver leader kill (" + meta_leader + ")", killed);
  const std::string new_meta_leader = Leader("metaserver");
  EXPECT_NE(new_meta_leader, meta_leader);

  // 2. A follower dies too: one of three left, so nothing commits until both are back (from their
  // own disks: everything acknowledged must have been fsync'd on a majority before the ack).
  const std::string meta_follower = Follower("metaserver");
  ASSERT_FALSE(meta_follower.empty());
  killed = Clock::now();
  ASSERT_TRUE(cluster_->Kill(meta_follower).ok());
  ASSERT_TRUE(cluster_->Restart(meta_leader).ok());
  ASSERT_TRUE(cluster_->Restart(meta_follower).ok());
  std::printf("both metaservers restarted %.2f s after the kill\n", Seconds(Clock::now() - killed));
  ExpectRecovers("metaserver follower kill with the old leader down (" + meta_follower +
                     "; both restarted at once)",
                 killed);

  // 3. The key service leader dies; every put needs a new data key from the group.
  const std::string key_leader = Leader("keyservice");
  ASSERT_FALSE(key_leader.empty());
  killed = Clock::now();
  ASSERT_TRUE(cluster_->Kill(key_leader).ok());
  ExpectRecovers("keyservice leader kill (" + key_leader + ")", killed);
  ASSERT_TRUE(cluster_->Restart(key_leader).ok());

  // 4. A follower loses its disk. Restarted without --raft_bootstrap it holds no Raft state and
  // waits for the leader, which must send a snapshot: its log no longer starts at entry 1.
  const std::string wiped = Follower("metaserver");
  ASSERT_FALSE(wiped.empty());
  ASSERT_TRUE(cluster_->Kill(wiped).ok());
  ASSERT_TRUE(cluster_->Wipe(wiped).ok());
  const std::string leader = Leader("metaserver");
  const uint64_t commit = Gauge(leader, "medvault_metaserver_raft_commit_index");
  // At least one entry per acknowledged put: the leader compacted (every kSnapshotEntries), so the
  // wiped replica cannot be sent the log from entry 1.
  EXPECT_GT(commit, 2 * kSnapshotEntries);
  const auto restarted = Clock::now();
  ASSERT_TRUE(cluster_->Restart(wiped).ok());
  ASSERT_TRUE(WaitForApplied(wiped, "metaserver", commit, std::chrono::seconds(60)))
      << wiped << " did not catch up to index " << commit;
  std::printf("wiped %s caught up to index %llu in %.2f s\n", wiped.c_str(),
              static_cast<unsigned long long>(commit), Seconds(Clock::now() - restarted));
  EXPECT_TRUE(absl::StrContains(ReadWholeFile(cluster_->LogFileOf(wiped)), "has no Raft state"))
      << "the wiped replica did not start empty";

  // Now the leader dies: the two left are the rejoined replica and one original follower, so a new
  // leader and every commit from here on need the rejoined replica. (Should the rejoined replica
  // itself lead by now, the other original dies instead: the same two-of-three remains.)
  std::string victim = Leader("metaserver");
  ASSERT_FALSE(victim.empty());
  if (victim == wiped) {
    for (const std::string& name : cluster_->Replicas("metaserver")) {
      if (name != wiped && cluster_->IsRunning(name)) victim = name;
    }
  }
  killed = Clock::now();
  ASSERT_TRUE(cluster_->Kill(victim).ok());
  ExpectRecovers("metaserver leader kill after the wiped replica rejoined (" + victim + ")",
                 killed);
  const uint64_t commit_after =
      Gauge(Leader("metaserver"), "medvault_metaserver_raft_commit_index");
  EXPECT_TRUE(WaitForApplied(wiped, "metaserver", commit_after, std::chrono::seconds(30)));
  ASSERT_TRUE(cluster_->Restart(victim).ok());
  // A little more load with every replica back.
  const auto all_back = Clock::now();
  EXPECT_TRUE(load_->WaitForAckStartedAfter(all_back, std::chrono::seconds(60)).has_value());

  load_->Stop();
  const auto load_end = Clock::now();

  // Every acknowledged put reads back bit-exact; every failed one is whole or absent.
  auto stub = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
  size_t acked = 0, failed = 0, failed_visible = 0;
  std::map<std::string, int> failures_by_code;
  std::map<std::string, std::string> readable;  // UID -> SHA-256, of every instance that reads back
  std::string study_uid;
  for (const PutRecord& r : load_->records()) {
    absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), r.uid);
    if (got.ok()) readable[r.uid] = Sha256(*got);
    if (r.status.ok()) {
      ++acked;
      study_uid = r.study_uid;
      ASSERT_TRUE(got.ok()) << "acknowledged put " << r.uid
                            << " does not read back: " << got.status();
      EXPECT_EQ(Sha256(*got), r.sha256) << r.uid;
    } else {
      ++failed;
      failures_by_code[absl::StatusCodeToString(r.status.code())]++;
      if (got.ok()) {
        ++failed_visible;
        EXPECT_EQ(Sha256(*got), r.sha256) << "half-visible instance " << r.uid;
      } else {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound)
            << r.uid << ": " << got.status();
      }
    }
  }
  // The index lists exactly the instances that read back, with their checksums: no instance of a
  // failed put is listed but unreadable (or the other way round). Every copy shares one study.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::GetStudyRequest req;
    req.set_study_uid(study_uid);
    v1::GetStudyResponse resp;
    grpc::Status s = stub->GetStudy(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::string> listed;
    for (const auto& series : resp.series()) {
      for (const auto& instance : series.instances())
        listed[instance.tags().sop_instance_uid()] = instance.sha256();
    }
    EXPECT_EQ(listed.size(), readable.size());
    EXPECT_TRUE(listed == readable) << "the study's listing and the readable instances differ";
  }
  EXPECT_TRUE(load_->read_errors().empty())
      << load_->read_errors().size() << " reads after an acknowledgement "
      << "went wrong, first: " << load_->read_errors().front();
  std::printf("puts: %zu acknowledged, %zu failed (%zu of those stored anyway)", acked, failed,
              failed_visible);
  for (const auto& [code, n] : failures_by_code) std::printf(" %s=%d", code.c_str(), n);
  std::printf(
      "; reads after ack: %llu ok, %llu unavailable; load ran %.1f s, verification %.1f s\n",
      static_cast<unsigned long long>(load_->reads_ok()),
      static_cast<unsigned long long>(load_->reads_unavailable()), Seconds(load_end - test_start),
      Seconds(Clock::now() - load_end));
  EXPECT_GT(acked, 3 * kSnapshotEntries);

  // Every process, including the restarted and the rejoined, shuts down cleanly.
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault
