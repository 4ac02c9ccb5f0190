#include "keyservice/core/key_store.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/file_scan.h"
#include "common/testing/temp_dir.h"
#include "medvault/v1/keyservice_store.pb.h"

namespace medvault::keyservice {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

std::string NewKek() { return RandomBytes(kAesKeyBytes).value(); }

using testing::AnyFileContains;

class KeyStoreTest : public ::testing::Test {
 protected:
  KeyStoreTest() : kek_(NewKek()) {
    EXPECT_TRUE(keks_.Add(1, SecretBytes(kek_)).ok());
    Reopen();
  }

  std::string db_path() const { return dir_.path() + "/db"; }

  // Closes and reopens the database (the store is rebuilt on the new KvStore).
  void Reopen(const KekRing* keks = nullptr) {
    store_.reset();
    kv_.reset();
    auto kv = KvStore::Open(db_path(), KeyStoreColumnFamilies());
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    store_ = std::make_unique<KeyStore>(kv_.get(), keks ? keks : &keks_, &clock_);
  }

  // Generates `n` keys; returns ids and plaintext keys (copies for checking).
  std::vector<std::pair<std::string, std::string>> GenerateCopies(uint32_t n) {
    auto keys = store_->Generate(n);
    EXPECT_TRUE(keys.ok()) << keys.status();
    std::vector<std::pair<std::string, std::string>> out;
    if (!keys.ok()) return out;
    for (const GeneratedKey& k : *keys) out.emplace_back(k.object_id, std::string(k.key.view()));
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::string kek_;
  KekRing keks_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyStoreTest, GenerateThenGetRoundTrips) {
  auto keys = GenerateCopies(5);
  ASSERT_EQ(keys.size(), 5u);
  for (const auto& [id, key] : keys) {
    auto got = store_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->view(), key);
  }
}

TEST_F(KeyStoreTest, IdsUniqueAndKeysAre32DistinctBytes) {
  auto keys = GenerateCopies(kMaxGenerateCount);
  ASSERT_EQ(keys.size(), kMaxGenerateCount);
  std::set<std::string> ids, dek_set;
  for (const auto& [id, key] : keys) {
    EXPECT_EQ(id.size(), kObjectIdBytes);
    EXPECT_EQ(key.size(), kAesKeyBytes);
    EXPECT_NE(key, std::string(kAesKeyBytes, '\0'));
    ids.insert(id);
    dek_set.insert(key);
  }
  EXPECT_EQ(ids.size(), keys.size());
  EXPECT_EQ(dek_set.size(), keys.size());
  // A second batch shares no id with the first.
  for (const auto& [id, key] : GenerateCopies(10)) EXPECT_EQ(ids.count(id), 0u);
}

TEST_F(KeyStoreTest, RecordFormatMatchesDocumentedWrapping) {
  clock_.Advance(42);
  auto keys = GenerateCopies(1);
  ASSERT_EQ(keys.size(), 1u);
  const auto& [id, key] = keys[0];
  auto raw = kv_->Get(kKeysColumnFamily, id);
  ASSERT_TRUE(raw.ok()) << raw.status();
  v1::WrappedDataKey record;
  ASSERT_TRUE(record.ParseFromString(*raw));
  EXPECT_EQ(record.kek_version(), 1u);
  EXPECT_EQ(record.nonce().size(), kGcmNonceBytes);
  EXPECT_EQ(record.wrapped_key().size(), kAesKeyBytes + kGcmTagBytes);
  EXPECT_EQ(record.created_micros(), clock_.NowMicros());
  // Independently rebuilt associated data: "medvault-dek-v1" || object id || 00 00 00 01.
  const std::string ad = std::string("medvault-dek-v1") + id + std::string("\0\0\0\x01", 4);
  auto plain = AesGcmOpen(kek_, record.nonce(), ad, record.wrapped_key());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, key);
}

TEST_F(KeyStoreTest, KeysSurviveReopen) {
  auto keys = GenerateCopies(20);
  Reopen();
  for (const auto& [id, key] : keys) {
    auto got = store_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->view(), key);
  }
}

TEST_F(KeyStoreTest, DifferentKekGivesDataLoss) {
  auto keys = GenerateCopies(2);
  KekRing other;
  ASSERT_TRUE(other.Add(1, SecretBytes(NewKek())).ok());
  Reopen(&other);
  for (const auto& [id, key] : keys) {
    auto got = store_->Get(id);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  }
}

TEST_F(KeyStoreTest, UnknownKekVersionIsFailedPrecondition) {
  auto keys = GenerateCopies(1);
  KekRing only_v2;
  ASSERT_TRUE(only_v2.Add(2, SecretBytes(NewKek())).ok());
  Reopen(&only_v2);
  EXPECT_EQ(store_->Get(keys[0].first).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyStoreTest, TamperedOrMovedRecordIsDataLoss) {
  auto keys = GenerateCopies(2);
  const std::string a = keys[0].first, b = keys[1].first;
  const std::string record_a = kv_->Get(kKeysColumnFamily, a).value();
  // Record of `a` stored under `b`: the associated data binds the object id.
  rocksdb::WriteBatch batch;
  batch.Put(kv_->cf(kKeysColumnFamily), b, record_a);
  v1::WrappedDataKey tampered;
  ASSERT_TRUE(tampered.ParseFromString(record_a));
  tampered.mutable_wrapped_key()->at(5) ^= 0x01;
  batch.Put(kv_->cf(kKeysColumnFamily), a, tampered.SerializeAsString());
  ASSERT_TRUE(kv_->Write(&batch).ok());
  EXPECT_EQ(store_->Get(a).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Get(b).status().code(), absl::StatusCode::kDataLoss);

  // Garbage that is not a WrappedDataKey, and a bad nonce length.
  rocksdb::WriteBatch garbage;
  garbage.Put(kv_->cf(kKeysColumnFamily), a, "\xff\xff\xff");
  tampered.set_nonce("short");
  garbage.Put(kv_->cf(kKeysColumnFamily), b, tampered.SerializeAsString());
  ASSERT_TRUE(kv_->Write(&garbage).ok());
  EXPECT_EQ(store_->Get(a).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Get(b).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyStoreTest, DestroyThenGetNotFoundAndDestroyIsIdempotent) {
  auto keys = GenerateCopies(3);
  const std::string gone = keys[0].first, also_gone = keys[1].first, kept = keys[2].first;
  const std::string never(kObjectIdBytes, 'x');
  auto destroyed = store_->Destroy({gone, also_gone, gone, never});
  ASSERT_TRUE(destroyed.ok()) << destroyed.status();
  EXPECT_EQ(*destroyed, 2u);
  EXPECT_EQ(store_->Get(gone).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(also_gone).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Get(kept).ok());

  auto again = store_->Destroy({gone, also_gone});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0u);
  EXPECT_EQ(store_->Destroy({}).value(), 0u);
  Reopen();
  EXPECT_EQ(store_->Get(gone).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Get(kept).ok());
}

TEST_F(KeyStoreTest, InvalidArguments) {
  EXPECT_EQ(store_->Generate(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Generate(kMaxGenerateCount + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get(std::string(15, 'a')).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get(std::string(17, 'a')).status().code(), absl::StatusCode::kInvalidArgument);

  // One bad id rejects the whole request: nothing is destroyed.
  auto keys = GenerateCopies(1);
  EXPECT_EQ(store_->Destroy({keys[0].first, "short"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->Get(keys[0].first).ok());
}

TEST_F(KeyStoreTest, NotFoundNamesObjectIdInHex) {
  const std::string id(kObjectIdBytes, '\x5a');
  auto got = store_->Get(id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find(ToHex(id)), absl::string_view::npos) << got.status();
}

TEST_F(KeyStoreTest, NoPlaintextKeyOnDiskButIdsPresent) {
  auto keys = GenerateCopies(50);
  // Before the flush the records sit in the WAL; after it, in an SST file. Check both states.
  for (bool flushed : {false, true}) {
    if (flushed) {
      ASSERT_TRUE(kv_->db()->Flush(rocksdb::FlushOptions(), kv_->cf(kKeysColumnFamily)).ok());
    }
    auto files = testing::ReadFilesUnder(db_path());
    ASSERT_FALSE(files.empty());
    for (const auto& [id, key] : keys) {
      // SST blocks store a key's prefix shared with the previous key only once, so look for the
      // last 12 bytes of each id (random ids share far fewer than 4 leading bytes).
      EXPECT_TRUE(AnyFileContains(files, id.substr(4))) << "flushed=" << flushed;
      // Either half of a DEK, raw or hex, would be a leak.
      for (const std::string& part : {key.substr(0, 16), key.substr(16)}) {
        EXPECT_FALSE(AnyFileContains(files, part)) << "plaintext DEK on disk, flushed=" << flushed;
        EXPECT_FALSE(AnyFileContains(files, ToHex(part))) << "hex DEK on disk, flushed=" << flushed;
      }
    }
    EXPECT_FALSE(AnyFileContains(files, kek_));
  }
}

TEST_F(KeyStoreTest, ErrorMessagesAndAuditLogCarryNoKeyBytes) {
  auto keys = GenerateCopies(3);
  std::vector<std::string> forbidden = {kek_, ToHex(kek_)};
  for (const auto& [id, key] : keys) {
    forbidden.push_back(key);
    forbidden.push_back(ToHex(key));
  }
  ASSERT_TRUE(store_->Destroy({keys[0].first}).ok());

  KekRing wrong_key, wrong_version;
  ASSERT_TRUE(wrong_key.Add(1, SecretBytes(NewKek())).ok());
  ASSERT_TRUE(wrong_version.Add(7, SecretBytes(NewKek())).ok());
  KeyStore wrong_key_store(kv_.get(), &wrong_key, &clock_);
  KeyStore wrong_version_store(kv_.get(), &wrong_version, &clock_);

  CaptureStderr();
  std::vector<absl::Status> errors = {
      store_->Get(keys[0].first).status(),              // NOT_FOUND
      wrong_key_store.Get(keys[1].first).status(),      // DATA_LOSS
      wrong_version_store.Get(keys[2].first).status(),  // FAILED_PRECONDITION
      store_->Get("bad").status(),                      // INVALID_ARGUMENT
  };
  ASSERT_TRUE(store_->Get(keys[1].first).ok());
  auto generated = store_->Generate(2);
  ASSERT_TRUE(generated.ok());
  for (const GeneratedKey& k : *generated) {
    forbidden.push_back(std::string(k.key.view()));
    forbidden.push_back(ToHex(k.key.view()));
  }
  ASSERT_TRUE(store_->Destroy({keys[1].first}).ok());
  const std::string log = GetCapturedStderr();

  EXPECT_EQ(errors[0].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(errors[1].code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(errors[2].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(errors[3].code(), absl::StatusCode::kInvalidArgument);
  for (const absl::Status& e : errors) {
    for (const std::string& secret : forbidden) {
      EXPECT_EQ(e.message().find(secret), absl::string_view::npos) << e;
    }
  }
  for (const std::string& secret : forbidden) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "key bytes in the audit log";
  }
  // One structured audit line per operation, with object ids in hex.
  EXPECT_NE(log.find("audit op=release caller=unauthenticated"), std::string::npos);
  EXPECT_NE(log.find("object_ids=" + ToHex(keys[1].first)), std::string::npos);
  EXPECT_NE(log.find("result=NOT_FOUND"), std::string::npos);
  EXPECT_NE(log.find("audit op=generate"), std::string::npos);
  EXPECT_NE(log.find("objects=2 object_ids=" + ToHex((*generated)[0].object_id)),
            std::string::npos);
  EXPECT_NE(log.find("audit op=destroy"), std::string::npos);
  int audit_lines = 0;
  for (size_t pos = 0; (pos = log.find("audit op=", pos)) != std::string::npos; ++pos) {
    ++audit_lines;
  }
  EXPECT_EQ(audit_lines, 7);  // 5 releases, 1 generate, 1 destroy
}

}  // namespace
}  // namespace medvault::keyservice

namespace medvault::keyservice {
namespace {

// Share events (the frontend's redemptions, revocations, unlocks) are audit records of their own,
// op=share; a malformed one writes nothing.
TEST_F(KeyStoreTest, ShareEventsAreAuditedAndValidated) {
  AuditInfo who{"frontend/frontend", "share-session/0123456789abcdef",
                "ShareRedeem (wrong PIN, 4 attempts left)", "127.0.0.1:5000"};
  ASSERT_TRUE(store_->RecordShareEvent(who, "PERMISSION_DENIED").ok());
  AuditInfo bad = who;
  bad.purpose = "ShareRedeem\nop=forged";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->RecordShareEvent(bad, "OK")));
  bad.purpose = "";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->RecordShareEvent(bad, "OK")));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->RecordShareEvent(who, "opened")));
  absl::StatusOr<v1::QueryAuditResponse> records = store_->audit()->Query(v1::QueryAuditRequest());
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->records_size(), 1);
  const v1::AuditRecord& r = records->records(0);
  EXPECT_EQ(r.op(), "share");
  EXPECT_EQ(r.on_behalf_of(), "share-session/0123456789abcdef");
  EXPECT_EQ(r.purpose(), "ShareRedeem (wrong PIN, 4 attempts left)");
  EXPECT_EQ(r.peer(), "127.0.0.1:5000");
  EXPECT_EQ(r.result(), "PERMISSION_DENIED");
}

}  // namespace
}  // namespace medvault::keyservice
