// Issue 17: a metaserver replica replaced with an empty volume, after the group's log was compacted
// past anything it held, catches up through a streamed Raft snapshot with bounded memory on both
// ends. The real binaries over mutual TLS, a group of 3 compacting every 20 entries; the state is
// MEDVAULT_SNAPSHOT_STATE_MB (default 160) MiB of incompressible ballast records written into every
// replica's database while they are stopped (the same bytes everywhere, so they still agree), so
// the snapshot is ~160 pieces of 1 MiB. The replica is removed, restarted empty and added back (the
// documented procedure); the leader's and the new replica's peak resident set during the catch-up
// is printed and must grow by less than the state's size: the whole-in-memory snapshot it replaced
// held several copies of it on each end. Then every ballast record is read back from the new
// replica's database.
#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/kv.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/admin.grpc.pb.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/proc_status.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ExternalCluster;

constexpr size_t kValueBytes = 4096;
constexpr char kBallastCf[] =
    "share_log";  // keys no share's code hash prefixes: nothing reads them

// Ballast record `i`'s value, the same in every process that asks.
class Ballast {
 public:
  explicit Ballast(int mb) : count_(static_cast<uint64_t>(mb) * (1 << 20) / kValueBytes) {}
  uint64_t count() const { return count_; }
  static std::string Key(uint64_t i) { return absl::StrFormat("ballast/%08d", i); }
  // Values in key order from a fixed seed (incompressible).
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::mt19937_64 rng(17);
    std::string value(kValueBytes, '\0');
    for (uint64_t i = 0; i < count_; ++i) {
      for (size_t at = 0; at < kValueBytes; at += 8) {
        const uint64_t r = rng();
        memcpy(&value[at], &r, 8);
      }
      fn(i, value);
    }
  }

 private:
  const uint64_t count_;
};

absl::StatusOr<std::unique_ptr<KvStore>> OpenStopped(const std::string& db) {
  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &names);
  if (!listed.ok()) return FromRocksStatus(listed, "listing column families");
  names.erase(std::remove(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName),
              names.end());
  return KvStore::Open(db, names);
}

absl::Status WriteBallast(const std::string& db, const Ballast& ballast) {
  absl::StatusOr<std::unique_ptr<KvStore>> kv = OpenStopped(db);
  if (!kv.ok()) return kv.status();
  rocksdb::WriteBatch batch;
  absl::Status written;
  ballast.ForEach([&](uint64_t i, const std::string& value) {
    if (!written.ok()) return;
    batch.Put((*kv)->cf(kBallastCf), Ballast::Key(i), value);
    if (batch.GetDataSize() < (4 << 20)) return;
    written = (*kv)->WriteBuffered(&batch);
    batch.Clear();
  });
  if (!written.ok()) return written;
  return (*kv)->Write(&batch);
}

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

uint64_t RaftIdOf(const std::string& name) { return std::stoull(name.substr(name.rfind('-') + 1)); }

TEST(RaftSnapshotStreamTest, ReplacedReplicaCatchesUpThroughAStreamedSnapshotInBoundedMemory) {
  const char* env = std::getenv("MEDVAULT_SNAPSHOT_STATE_MB");
  const int state_mb = env != nullptr ? std::atoi(env) : 160;
  const Ballast ballast(state_mb);
  testing::ClusterOptions options;
  options.replicas = 3;
  options.metaserver_flags = {"--raft_snapshot_entries=20"};
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  auto store = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  auto admin = v1::Admin::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  const testing::DicomInstanceFactory factory(
      testing::ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  int stored = 0;
  auto put = [&](int n) {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<std::string> bytes =
          factory.WithSopInstanceUid(absl::StrCat("1.2.826.0.1.3680043.8.498.1718.", ++stored));
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      absl::StatusOr<v1::PutInstanceResponse> r = testing::PutInstance(store.get(), *bytes);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  };
  put(2);

  // The big state, on every replica alike.
  for (const std::string& name : cluster.Replicas("metaserver")) {
    ASSERT_TRUE(cluster.Kill(name).ok());
    absl::Status written = WriteBallast(cluster.DataDirOf(name) + "/db", ballast);
    ASSERT_TRUE(written.ok()) << written;
  }
  for (const std::string& name : cluster.Replicas("metaserver"))
    ASSERT_TRUE(cluster.Restart(name).ok()) << name;
  absl::StatusOr<std::string> leader = cluster.LeaderOf("metaserver", std::chrono::seconds(60));
  ASSERT_TRUE(leader.ok()) << leader.status();
  put(1);

  // A follower's volume is replaced: removed, the group writes past its compaction threshold,
  // restarted empty and added back.
  std::string victim;
  for (const std::string& name : cluster.Replicas("metaserver")) {
    if (name != *leader) victim = name;
  }
  ASSERT_TRUE(cluster.Kill(victim).ok());
  ASSERT_TRUE(cluster.Wipe(victim).ok());
  const std::string id = std::to_string(RaftIdOf(victim));
  testing::CommandResult removed = Cli(cluster, {"raft", "remove", "metaserver", id});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  put(25);
  ASSERT_TRUE(cluster.Restart(victim).ok());

  const std::string binary = ExternalCluster::Binary("metaserver");
  const pid_t leader_pid = testing::PidOf(binary, cluster.DataDirOf(*leader));
  const pid_t victim_pid = testing::PidOf(binary, cluster.DataDirOf(victim));
  ASSERT_GT(leader_pid, 0);
  ASSERT_GT(victim_pid, 0);
  testing::ResetPeakRss(leader_pid);
  testing::ResetPeakRss(victim_pid);
  const long leader_before = testing::StatusKb(leader_pid, "VmRSS");
  const long victim_before = testing::StatusKb(victim_pid, "VmRSS");
  const auto started = Clock::now();
  testing::CommandResult added =
      Cli(cluster, {"raft", "add", "metaserver", id, cluster.AddressOf(victim)});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  bool caught_up = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(120);
       !caught_up && Clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetRaftStatusRequest request;
    request.set_group(v1::RAFT_GROUP_METASERVER);
    v1::GetRaftStatusResponse st;
    if (!admin->GetRaftStatus(&ctx, request, &st).ok()) continue;
    for (const auto& m : st.members()) {
      if (std::to_string(m.id()) == id) caught_up = m.voter() && m.lag() == 0;
    }
  }
  ASSERT_TRUE(caught_up) << victim << " did not become a caught-up voter";
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const long leader_peak = testing::StatusKb(leader_pid, "VmHWM");
  const long victim_peak = testing::StatusKb(victim_pid, "VmHWM");
  std::cerr << "streamed snapshot of a " << state_mb << " MiB state: caught up in " << seconds
            << " s; leader RSS " << leader_before / 1024 << " -> peak " << leader_peak / 1024
            << " MiB, joining replica " << victim_before / 1024 << " -> peak " << victim_peak / 1024
            << " MiB\n";

  // Bounded: neither end grew by the state's size (the whole-in-memory snapshot held it several
  // times over on each end: built, serialised, reassembled, parsed, copied into a WriteBatch).
  const long bound_kb = static_cast<long>(state_mb) * 1024;
  EXPECT_LT(leader_peak - leader_before, bound_kb);
  EXPECT_LT(victim_peak - victim_before, bound_kb);

  // It came as a streamed snapshot of many pieces.
  const std::string leader_log = testing::ReadWholeFile(cluster.LogFileOf(*leader));
  const size_t sent = leader_log.rfind("raft snapshot at index ");
  ASSERT_NE(sent, std::string::npos) << "the leader sent no streamed snapshot";
  const size_t in = leader_log.find(" in ", sent);
  int pieces = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(leader_log.substr(in + 4, leader_log.find(' ', in + 4) - in - 4), &pieces));
  EXPECT_GE(pieces, state_mb) << leader_log.substr(sent, 200);

  // Every ballast record is in the new replica's database, bit-exact.
  put(1);
  ASSERT_TRUE(cluster.Kill(victim).ok());
  absl::StatusOr<std::unique_ptr<KvStore>> kv = OpenStopped(cluster.DataDirOf(victim) + "/db");
  ASSERT_TRUE(kv.ok()) << kv.status();
  uint64_t matched = 0;
  ballast.ForEach([&](uint64_t i, const std::string& value) {
    absl::StatusOr<std::string> got = (*kv)->Get(kBallastCf, Ballast::Key(i));
    if (got.ok() && *got == value) ++matched;
  });
  EXPECT_EQ(matched, ballast.count());
}

}  // namespace
}  // namespace medvault
