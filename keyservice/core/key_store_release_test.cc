// KeyStore::GetMany: one audit write for a set of keys, each key checked on its own.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

// The database's writer, counting the replicated writes (each is one Raft entry in the service).
class CountingWriter : public KvWriter {
 public:
  explicit CountingWriter(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    ++writes;
    if (ahead_of_next_write) std::exchange(ahead_of_next_write, nullptr)();
    if (fail) return absl::UnavailableError("no quorum");
    return kv_->Write(batch);
  }
  int writes = 0;
  bool fail = false;
  std::function<void()> ahead_of_next_write;

 private:
  KvStore* const kv_;
};

class KeyStoreReleaseTest : public ::testing::Test {
 protected:
  KeyStoreReleaseTest() {
    EXPECT_TRUE(keks_.Add(1, SecretBytes(RandomBytes(kAesKeyBytes).value())).ok());
    auto kv = KvStore::Open(dir_.path() + "/db", KeyStoreColumnFamilies());
    EXPECT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    writer_ = std::make_unique<CountingWriter>(kv_.get());
    store_ = std::make_unique<KeyStore>(kv_.get(), &keks_, &clock_, writer_.get());
  }
  // `n` generated keys: ids and copies of their bytes.
  void Generate(int n, std::vector<std::string>* ids, std::vector<std::string>* keys) {
    auto generated = store_->Generate(static_cast<uint32_t>(n));
    ASSERT_TRUE(generated.ok()) << generated.status();
    for (const auto& k : *generated) {
      ids->push_back(k.object_id);
      keys->push_back(std::string(k.key.view()));
    }
  }
  // Every audit record after the first `skip`: "op=result/objects".
  std::vector<std::string> Records(int skip) {
    auto page = store_->audit()->Query(v1::QueryAuditRequest());
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    for (int i = skip; i < page->records_size(); ++i) {
      const auto& r = page->records(i);
      out.push_back(r.op() + "=" + r.result() + "/" + std::to_string(r.object_ids_size()));
    }
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  KekRing keks_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<CountingWriter> writer_;
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyStoreReleaseTest, ReleasesASetUnderOneAuditWrite) {
  std::vector<std::string> ids, keys;
  Generate(50, &ids, &keys);
  writer_->writes = 0;
  auto got = store_->GetMany(ids, AuditInfo{"frontend/frontend", "client/viewer", "RetrieveStudy"});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE((*got)[i].ok()) << (*got)[i].status();
    EXPECT_EQ((*got)[i]->view(), keys[i]);
  }
  EXPECT_EQ(writer_->writes, 1);
  EXPECT_EQ(Records(1), (std::vector<std::string>{"release=OK/50"}));
  auto page = store_->audit()->Query(v1::QueryAuditRequest());
  const v1::AuditRecord& r = page->records(1);
  EXPECT_EQ(r.purpose(), "RetrieveStudy");
  EXPECT_EQ(r.on_behalf_of(), "client/viewer");
}

// A destroyed key is refused in its own entry (and recorded as refused) while the others are
// released, all in the same write.
TEST_F(KeyStoreReleaseTest, ADestroyedKeyIsRefusedAloneInTheSameWrite) {
  std::vector<std::string> ids, keys;
  Generate(3, &ids, &keys);
  ASSERT_TRUE(store_->Destroy({ids[1]}).ok());
  writer_->writes = 0;
  auto got = store_->GetMany(ids);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE((*got)[0].ok());
  EXPECT_EQ((*got)[1].status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*got)[2].ok());
  EXPECT_EQ((*got)[2]->view(), keys[2]);
  EXPECT_EQ(writer_->writes, 1);
  EXPECT_EQ(Records(2), (std::vector<std::string>{"release=OK/2", "release=NOT_FOUND/1"}));
}

// Destroyed after the plan but committed before the records: refused, and its release voided.
TEST_F(KeyStoreReleaseTest, AKeyDestroyedBeforeTheRecordsCommitIsNotReleased) {
  std::vector<std::string> ids, keys;
  Generate(2, &ids, &keys);
  writer_->ahead_of_next_write = [&] { ASSERT_TRUE(store_->Destroy({ids[0]}).ok()); };
  auto got = store_->GetMany(ids);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0].status().code(), absl::StatusCode::kNotFound)
      << "the key of a destroyed object was released";
  EXPECT_TRUE((*got)[1].ok());
  EXPECT_EQ(Records(1),
            (std::vector<std::string>{"release=OK/2", "destroy=OK/1", "void_release=NOT_FOUND/1"}));
}

TEST_F(KeyStoreReleaseTest, BadRequestsAndAFailedAuditWriteReleaseNothing) {
  std::vector<std::string> ids, keys;
  Generate(2, &ids, &keys);
  EXPECT_EQ(store_->GetMany({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetMany({ids[0], "short"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetMany(std::vector<std::string>(kMaxReleaseCount + 1, ids[0])).status().code(),
            absl::StatusCode::kInvalidArgument);
  writer_->fail = true;
  EXPECT_EQ(store_->GetMany(ids).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace medvault::keyservice
