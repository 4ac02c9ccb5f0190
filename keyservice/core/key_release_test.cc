// How a replicated key service releases a data key without a ReadIndex barrier: the release is
// planned from local state, its audit record's commit brings that state up to date, and the key
// is read again then (read-after-commit). Over a real RocksDB, with a writer that stands in for
// the group: it counts barriers and can let another operation commit just ahead of a write.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

class GroupStandIn : public KvWriter {
 public:
  explicit GroupStandIn(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    if (ahead_of_next_write) std::exchange(ahead_of_next_write, nullptr)();
    return kv_->Write(batch);
  }
  absl::Status Barrier() override {
    ++barriers;
    if (on_barrier) std::exchange(on_barrier, nullptr)();
    return absl::OkStatus();
  }
  // Runs once, before the next write: an operation committed just ahead of it.
  std::function<void()> ahead_of_next_write;
  // Runs once, at the next barrier: entries committed elsewhere that this replica applies now.
  std::function<void()> on_barrier;
  int barriers = 0;

 private:
  KvStore* const kv_;
};

class KeyReleaseTest : public ::testing::Test {
 protected:
  KeyReleaseTest() {
    EXPECT_TRUE(keks_.Add(1, SecretBytes(RandomBytes(kAesKeyBytes).value())).ok());
    auto kv = KvStore::Open(dir_.path() + "/db", KeyStoreColumnFamilies());
    EXPECT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    group_ = std::make_unique<GroupStandIn>(kv_.get());
    store_ = std::make_unique<KeyStore>(kv_.get(), &keks_, &clock_, group_.get());
  }
  // One generated key: its id and a copy of its bytes.
  std::pair<std::string, std::string> OneKey() {
    auto keys = store_->Generate(1);
    EXPECT_TRUE(keys.ok()) << keys.status();
    return {(*keys)[0].object_id, std::string((*keys)[0].key.view())};
  }
  // The ops and results of the audit records of `object_id`, oldest first ("release=OK", ...).
  std::vector<std::string> AuditOf(const std::string& object_id) {
    v1::QueryAuditRequest q;
    q.set_object_id(object_id);
    auto page = store_->audit()->Query(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    for (const auto& r : page->records()) out.push_back(r.op() + "=" + r.result());
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  KekRing keks_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<GroupStandIn> group_;
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyReleaseTest, AReleaseTakesNoBarrierButARefusalIsConfirmedBehindOne) {
  auto [id, key] = OneKey();
  group_->barriers = 0;
  auto got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->view(), key);
  EXPECT_EQ(group_->barriers, 0);

  const std::string unknown(kObjectIdBytes, '\x5a');
  EXPECT_EQ(store_->Get(unknown).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(group_->barriers, 1);
}

// A key committed through another leader but not yet applied on this replica: the local read
// misses it, and the barrier (which applies it) turns the refusal into the release.
TEST_F(KeyReleaseTest, AKeyThisReplicaHasNotAppliedYetIsFoundBehindTheBarrier) {
  auto [id, key] = OneKey();
  const std::string stored = kv_->Get(kKeysColumnFamily, id).value();
  rocksdb::WriteBatch unapply;
  unapply.Delete(kv_->cf(kKeysColumnFamily), rocksdb::Slice(id));
  ASSERT_TRUE(kv_->Write(&unapply).ok());
  group_->on_barrier = [&, id = id] {
    rocksdb::WriteBatch apply;
    apply.Put(kv_->cf(kKeysColumnFamily), rocksdb::Slice(id), rocksdb::Slice(stored));
    ASSERT_TRUE(kv_->Write(&apply).ok());
  };
  auto got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->view(), key);
  EXPECT_EQ(AuditOf(id), (std::vector<std::string>{"generate=OK", "release=OK"}));
}

// The key is destroyed by an operation that commits after the release read it but before the
// release's audit record: the key must not be released, and the audit log says the recorded
// release did not happen.
TEST_F(KeyReleaseTest, AKeyDestroyedBeforeTheReleaseCommitsIsNotReleased) {
  auto [id, key] = OneKey();
  group_->ahead_of_next_write = [&, id = id] { ASSERT_TRUE(store_->Destroy({id}).ok()); };
  auto got = store_->Get(id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound)
      << "the key of a destroyed object was released";
  // Records sort by when each operation began: the release began before the destroy.
  EXPECT_EQ(AuditOf(id), (std::vector<std::string>{"generate=OK", "release=OK", "destroy=OK",
                                                   "void_release=NOT_FOUND"}));
  // And from then on, plainly refused.
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace medvault::keyservice
