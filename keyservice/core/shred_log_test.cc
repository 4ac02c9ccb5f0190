// The shred log: what a replica appends reads back, a torn append is ignored, and a restore drops
// every key destroyed after the backup only when some log covers that time.
#include "keyservice/core/shred_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/testing/temp_dir.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

std::string Id(char c) { return std::string(kObjectIdBytes, c); }

v1::RaftSnapshot StateWithKeys(const std::vector<std::string>& ids) {
  v1::RaftKvBatch data;
  for (const std::string& id : ids) {
    v1::RaftKvWrite* w = data.add_writes();
    w->set_cf(kKeysColumnFamily);
    w->set_key(id);
    w->set_value("wrapped");
  }
  v1::RaftKvWrite* other = data.add_writes();
  other->set_cf(kKekStateColumnFamily);
  other->set_key(Id('a'));  // same bytes as a destroyed key, but not a key: kept
  v1::RaftSnapshot snapshot;
  snapshot.set_data(data.SerializeAsString());
  return snapshot;
}

std::vector<std::string> KeysIn(const v1::RaftSnapshot& snapshot) {
  v1::RaftKvBatch data;
  EXPECT_TRUE(data.ParseFromString(snapshot.data()));
  std::vector<std::string> keys;
  for (const auto& w : data.writes()) keys.push_back(w.cf() + ":" + w.key());
  return keys;
}

TEST(ShredLogTest, AppendsReadBackAcrossReopens) {
  medvault::testing::TempDir dir;
  FakeClock clock(1000);
  const std::string path = dir.path() + "/shred.log";
  {
    auto log = ShredLog::Open(path, &clock);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)->Destroyed(Id('a')).ok());
  }
  clock.Advance(500);
  auto log = ShredLog::Open(path, &clock);  // appends, keeps the header
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Gap().ok());
  ASSERT_TRUE((*log)->Destroyed(Id('b')).ok());
  auto text = DefaultFilesystem()->ReadFile(path);
  ASSERT_TRUE(text.ok());
  auto parsed = ParseShredLog(*text + "0123");  // a torn last append is ignored
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->since_micros, 1000);
  EXPECT_EQ(parsed->last_gap_micros, 1500);
  EXPECT_EQ(parsed->object_ids, (std::set<std::string>{Id('a'), Id('b')}));
}

TEST(ShredLogTest, RefusesWhatIsNotAShredLog) {
  EXPECT_EQ(ParseShredLog("hello\n").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseShredLog("medvault-shred-log v1 since 5\nzz\n").status().code(),
            absl::StatusCode::kDataLoss);
  medvault::testing::TempDir dir;
  std::ofstream(dir.path() + "/other") << "not a log\n";
  FakeClock clock(1);
  EXPECT_EQ(ShredLog::Open(dir.path() + "/other", &clock).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ShredLogTest, RestoreDropsKeysDestroyedAfterTheBackup) {
  ShredLogContents log;
  log.since_micros = 100;
  log.object_ids = {Id('a')};
  ShredLogContents late;  // began after the backup: adds ids, covers nothing
  late.since_micros = 900;
  late.object_ids = {Id('c')};
  v1::RaftSnapshot state = StateWithKeys({Id('a'), Id('b'), Id('c')});
  absl::StatusOr<uint64_t> removed = ApplyShredLogs({log, late}, /*backup_micros=*/500, &state);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(KeysIn(state), (std::vector<std::string>{std::string("keys:") + Id('b'),
                                                     std::string("kek_state:") + Id('a')}));
}

TEST(ShredLogTest, RestoreRefusedWithoutALogCoveringTheBackup) {
  ShredLogContents late;
  late.since_micros = 900;
  ShredLogContents gapped;
  gapped.since_micros = 100;
  gapped.last_gap_micros = 600;  // caught up by snapshot after the backup: may lack destructions
  v1::RaftSnapshot state = StateWithKeys({Id('a')});
  const std::string before = state.data();
  EXPECT_EQ(ApplyShredLogs({late, gapped}, 500, &state).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyShredLogs({}, 500, &state).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state.data(), before);
}

}  // namespace
}  // namespace medvault::keyservice
