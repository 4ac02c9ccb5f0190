// KEK rotation, retirement, audit records and shredding of the KeyStore over a real RocksDB.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"
#include "keyservice/core/key_store.h"
#include "keyservice/core/shredder.h"

namespace medvault::keyservice {
namespace {

std::string NewKek() { return RandomBytes(kAesKeyBytes).value(); }

// Passes writes to the database until told to fail them.
class SwitchableWriter : public KvWriter {
 public:
  explicit SwitchableWriter(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    if (fail_) return absl::UnavailableError("no quorum (injected)");
    return kv_->Write(batch);
  }
  bool fail_ = false;

 private:
  KvStore* kv_;
};

class KeyRotationTest : public ::testing::Test {
 protected:
  KeyRotationTest() : v1_(NewKek()), v2_(NewKek()) {
    EXPECT_TRUE(only_v1_.Add(1, SecretBytes(v1_)).ok());
    EXPECT_TRUE(both_.Add(1, SecretBytes(v1_)).ok());
    EXPECT_TRUE(both_.Add(2, SecretBytes(v2_)).ok());
    EXPECT_TRUE(only_v2_.Add(2, SecretBytes(v2_)).ok());
    Open(&only_v1_);
  }

  // (Re)opens database and store, as a restarted key service holding `ring`.
  void Open(const KekRing* ring) {
    store_.reset();
    writer_.reset();
    kv_.reset();
    auto kv = KvStore::Open(dir_.path() + "/db", KeyStoreColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    writer_ = std::make_unique<SwitchableWriter>(kv_.get());
    store_ = std::make_unique<KeyStore>(kv_.get(), ring, &clock_, writer_.get());
  }

  std::vector<std::pair<std::string, std::string>> Generate(uint32_t n) {
    std::vector<std::pair<std::string, std::string>> out;
    auto keys = store_->Generate(n, who_);
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (!keys.ok()) return out;
    for (const GeneratedKey& k : *keys) out.emplace_back(k.object_id, std::string(k.key.view()));
    return out;
  }

  uint32_t VersionOf(const std::string& id) {
    v1::WrappedDataKey record;
    EXPECT_TRUE(record.ParseFromString(kv_->Get(kKeysColumnFamily, id).value()));
    return record.kek_version();
  }

  void ExpectAllReadable(const std::vector<std::pair<std::string, std::string>>& keys) {
    for (const auto& [id, key] : keys) {
      auto got = store_->Get(id, who_);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->view(), key);
    }
  }

  // Rewraps everything, `batch` keys per step; returns how many were rewrapped.
  uint64_t RewrapAll(size_t batch) {
    uint64_t total = 0;
    std::string cursor;
    do {
      auto step = store_->RewrapSome(cursor, batch);
      EXPECT_TRUE(step.ok()) << step.status();
      if (!step.ok()) break;
      total += step->rewrapped;
      cursor = step->next;
    } while (!cursor.empty());
    return total;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::string v1_, v2_;
  KekRing only_v1_, both_, only_v2_;
  AuditInfo who_{"frontend/frontend", "client/viewer", "GetInstance"};
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<SwitchableWriter> writer_;
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyRotationTest, NewVersionWrapsOnlyAfterRotateThenRewrapRetireAndDropOldKek) {
  auto old_keys = Generate(40);
  EXPECT_EQ(store_->KekStateNow()->active_version(), 1u);  // pinned by the first generation
  Open(&both_);  // v2 installed on the replica: nothing changes until an operator rotates
  auto more = Generate(5);
  EXPECT_EQ(VersionOf(more[0].first), 1u);
  ASSERT_TRUE(store_->Rotate(2, who_).ok());
  auto newer = Generate(5);
  EXPECT_EQ(VersionOf(newer[0].first), 2u);
  EXPECT_EQ(store_->Census()->to_rewrap, 45u);
  // Retiring a version still in use, or the active one, is refused.
  EXPECT_EQ(store_->Retire(1, who_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Retire(2, who_).code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(RewrapAll(7), 45u);
  ExpectAllReadable(old_keys);
  KekCensus census = store_->Census().value();
  EXPECT_EQ(census.to_rewrap, 0u);
  EXPECT_EQ(census.total, 50u);
  EXPECT_EQ(census.keys_by_version[2], 50u);
  ASSERT_TRUE(store_->Retire(1, who_).ok());
  EXPECT_EQ(store_->Rotate(1, who_).code(),
            absl::StatusCode::kFailedPrecondition);  // retired for good
  // The old KEK file can go: a key service holding only v2 reads everything.
  Open(&only_v2_);
  ExpectAllReadable(old_keys);
  ExpectAllReadable(more);
  ExpectAllReadable(newer);
}

// The ages of the master keys come from these times (medvault_keyservice_kek_activated_...).
TEST_F(KeyRotationTest, TheStateRecordsWhenEachVersionBecameActive) {
  const int64_t pinned_at = clock_.NowMicros();
  Generate(1);
  clock_.Advance(5'000'000);
  Open(&both_);
  Generate(1);  // v1 stays active: no new time
  EXPECT_EQ(store_->KekStateNow()->activated_micros().size(), 1u);
  clock_.Advance(5'000'000);
  const int64_t rotated_at = clock_.NowMicros();
  ASSERT_TRUE(store_->Rotate(2, who_).ok());
  clock_.Advance(5'000'000);
  ASSERT_TRUE(store_->Rotate(2, who_).ok());  // already active: keeps its time
  v1::KekState state = store_->KekStateNow().value();
  EXPECT_EQ(state.activated_micros().at(1), pinned_at);
  EXPECT_EQ(state.activated_micros().at(2), rotated_at);
}

TEST_F(KeyRotationTest, RewrapResumesAfterRestartAndNeverResurrectsDestroyedKeys) {
  auto keys = Generate(60);
  Open(&both_);
  ASSERT_TRUE(store_->Rotate(2, who_).ok());
  auto step = store_->RewrapSome("", 10);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->rewrapped, 10u);
  ASSERT_TRUE(store_->Destroy({keys[0].first, keys[59].first}, who_).ok());
  Open(&both_);  // a restart mid-rotation: the next pass starts over and finishes
  const uint64_t left = store_->Census()->to_rewrap;  // 50 minus the destroyed ones still on v1
  EXPECT_GE(left, 48u);
  EXPECT_LE(left, 50u);
  EXPECT_EQ(RewrapAll(16), left);
  EXPECT_EQ(store_->Census()->to_rewrap, 0u);
  EXPECT_EQ(store_->Census()->total, 58u);
  EXPECT_EQ(store_->Get(keys[0].first, who_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(keys[59].first, who_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KeyRotationTest, EveryKeyOperationIsAuditedWithCallerPurposeAndTime) {
  const int64_t t0 = clock_.NowMicros();
  clock_.Advance(1000);
  auto keys = Generate(2);
  const std::string a = keys[0].first;
  clock_.Advance(1000);
  ASSERT_TRUE(store_->Get(a, who_).ok());
  EXPECT_EQ(store_->Get(std::string(16, 'x'), who_).status().code(), absl::StatusCode::kNotFound);
  clock_.Advance(1000);
  store_->RecordDenial({"chunkserver/chunkserver-1", "", "GetDataKey"},
                       absl::PermissionDeniedError("no"), {a});
  clock_.Advance(1000);
  ASSERT_EQ(store_->Destroy({a}, who_).value(), 1u);

  v1::QueryAuditRequest by_object;
  by_object.set_object_id(a);
  auto found = store_->audit()->Query(by_object);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records_size(), 4);
  const char* ops[] = {"generate", "release", "deny", "destroy"};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(found->records(i).op(), ops[i]);
  EXPECT_EQ(found->records(0).caller(), "frontend/frontend");
  EXPECT_EQ(found->records(0).object_ids_size(), 2);
  EXPECT_EQ(found->records(1).on_behalf_of(), "client/viewer");
  EXPECT_EQ(found->records(1).purpose(), "GetInstance");
  EXPECT_EQ(found->records(1).result(), "OK");
  EXPECT_EQ(found->records(1).kek_version(), 1u);
  EXPECT_EQ(found->records(2).caller(), "chunkserver/chunkserver-1");
  EXPECT_EQ(found->records(2).result(), "PERMISSION_DENIED");
  EXPECT_EQ(found->records(3).time_micros(), t0 + 4000);

  // By time: [2000, 3000) holds the two releases (one of an unknown object); paged one by one.
  v1::QueryAuditRequest by_time;
  by_time.set_since_micros(t0 + 2000);
  by_time.set_until_micros(t0 + 3000);
  by_time.set_limit(1);
  std::vector<std::string> results;
  for (int page = 0; page < 5; ++page) {
    auto got = store_->audit()->Query(by_time);
    ASSERT_TRUE(got.ok()) << got.status();
    for (const auto& r : got->records()) results.push_back(r.op() + ":" + r.result());
    if (got->next_page_token().empty()) break;
    by_time.set_page_token(got->next_page_token());
  }
  EXPECT_EQ(results, (std::vector<std::string>{"release:OK", "release:NOT_FOUND"}));
  by_time.set_until_micros(t0 + 1000);
  EXPECT_EQ(store_->audit()->Query(by_time).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyRotationTest, NoKeyIsReleasedWhenItsAuditRecordCannotBeWritten) {
  auto keys = Generate(1);
  writer_->fail_ = true;
  absl::StatusOr<SecretBytes> got = store_->Get(keys[0].first, who_);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("not released"), std::string::npos);
  writer_->fail_ = false;
  EXPECT_TRUE(store_->Get(keys[0].first, who_).ok());
}

TEST_F(KeyRotationTest, ShredderPushesDestroyedKeysOutOfEveryDatabaseFile) {
  auto keys = Generate(4);
  rocksdb::FlushOptions flush;
  ASSERT_TRUE(kv_->db()->Flush(flush, kv_->cf(kKeysColumnFamily)).ok());
  const std::string gone = keys[0].first;
  v1::WrappedDataKey record;
  ASSERT_TRUE(record.ParseFromString(kv_->Get(kKeysColumnFamily, gone).value()));
  // The wrapped bytes really are in the files (in the SST and the write-ahead log) beforehand.
  ASSERT_FALSE(testing::FilesContaining(dir_.path(), record.wrapped_key()).empty());

  Shredder shredder(kv_.get(), {}, {});
  ASSERT_EQ(store_->Destroy({gone}, who_).value(), 1u);
  shredder.Destroyed(gone);
  EXPECT_EQ(shredder.pending(), 1u);
  ASSERT_TRUE(shredder.ShredPending().ok());
  EXPECT_EQ(shredder.pending(), 0u);
  EXPECT_EQ(shredder.shredded(), 1u);
  EXPECT_EQ(testing::FilesContaining(dir_.path(), record.wrapped_key()),
            std::vector<std::string>{});
  EXPECT_EQ(testing::FilesContaining(dir_.path(), record.nonce()), std::vector<std::string>{});
  EXPECT_TRUE(store_->Get(keys[1].first, who_).ok());
}

}  // namespace
}  // namespace medvault::keyservice
