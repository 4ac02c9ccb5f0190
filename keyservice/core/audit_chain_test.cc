// The audit hash chain, computed as the Raft state machine applies commands (through the real
// KvStateMachine), its signed heads and VerifyAuditLog's findings on tampered databases.
#include "keyservice/core/audit_chain.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/signing_key.h"
#include "common/testing/temp_dir.h"
#include "keyservice/core/audit_log.h"
#include "keyservice/core/audit_signer.h"
#include "keyservice/core/audit_verify.h"
#include "keyservice/core/key_store.h"
#include "keyservice/service/audit_chain_rewriter.h"
#include "raft/rocks_log_storage.h"

namespace medvault::keyservice {
namespace {

using ::medvault::testing::WriteSigningKey;

// One replica: a database, a state machine with the chain wired in, and a KvWriter that applies
// each batch as the next committed log entry (as the Raft group does, minus the network).
class Replica : public KvWriter {
 public:
  explicit Replica(const std::string& path) {
    std::vector<std::string> cfs = KeyStoreColumnFamilies();
    for (const std::string& cf : raft::RaftColumnFamilies()) cfs.push_back(cf);
    kv = std::move(KvStore::Open(path, cfs).value());
    chain = std::make_unique<AuditChain>(kv.get());
    EXPECT_TRUE(chain->Load().ok());
    rewriter = std::make_unique<AuditChainRewriter>(chain.get());
    machine = std::move(raft::KvStateMachine::Open(kv.get(), KeyStoreColumnFamilies()).value());
    machine->set_rewriter(rewriter.get());
  }
  absl::Status Write(rocksdb::WriteBatch* batch) override {
    absl::StatusOr<std::string> command = machine->EncodeCommand(*batch);
    if (!command.ok()) return command.status();
    return ApplyCommand(*command);
  }
  absl::Status ApplyCommand(const std::string& command) {
    raft::Entry e;
    e.set_index(machine->Applied().index() + 1);
    e.set_term(1);
    e.set_type(v1::RAFT_ENTRY_COMMAND);
    e.set_data(command);
    commands.push_back(command);
    absl::StatusOr<std::vector<absl::Status>> results = machine->Apply({e});
    if (!results.ok()) return results.status();
    return results->front();
  }

  std::unique_ptr<KvStore> kv;
  std::unique_ptr<AuditChain> chain;
  std::unique_ptr<AuditChainRewriter> rewriter;
  std::unique_ptr<raft::KvStateMachine> machine;
  std::vector<std::string> commands;  // as proposed, before the rewrite
};

class AuditChainTest : public ::testing::Test {
 protected:
  AuditChainTest() : replica_(dir_.path() + "/db"), log_(replica_.kv.get(), &replica_, &clock_) {}

  v1::AuditRecord Record(const std::string& op) {
    v1::AuditRecord r =
        log_.NewRecord(op, AuditInfo{"frontend/frontend", "client/c", "GetInstance", ""});
    r.set_result("OK");
    r.add_object_ids(std::string(16, 'x'));
    return r;
  }
  void AppendRecords(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log_.Append(Record("release")).ok());
  }
  v1::VerifyAuditResponse Verify() {
    absl::StatusOr<v1::VerifyAuditResponse> r = VerifyAuditLog(*replica_.kv, trusted_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::VerifyAuditResponse();
  }
  // Verify finds the first bad record at `position`, with `problem` in its description.
  void ExpectBadAt(uint64_t position, const std::string& problem) {
    v1::VerifyAuditResponse v = Verify();
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(v.first_bad_position(), position);
    EXPECT_NE(v.problem().find(problem), std::string::npos) << v.problem();
  }
  // The record key and stored bytes at a chain position.
  std::pair<std::string, std::string> At(uint64_t position) {
    std::string link = replica_.kv->Get(kAuditChainColumnFamily, ChainLinkKey(position)).value();
    std::string key = link.substr(0, 16);
    return {key, replica_.kv->Get(kAuditColumnFamily, key).value()};
  }
  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    rocksdb::WriteBatch b;
    b.Put(replica_.kv->cf(cf), key, value);
    ASSERT_TRUE(replica_.kv->Write(&b).ok());
  }
  void Delete(const std::string& cf, const std::string& key) {
    rocksdb::WriteBatch b;
    b.Delete(replica_.kv->cf(cf), key);
    ASSERT_TRUE(replica_.kv->Write(&b).ok());
  }

  testing::TempDir dir_;
  FakeClock clock_;
  Replica replica_;
  AuditLog log_;
  AuditTrustedKeys trusted_;
};

TEST_F(AuditChainTest, EachRecordCarriesThePreviousHashInApplyOrder) {
  // Staged in one order, committed in the other: the chain follows the commit (apply) order.
  v1::AuditRecord first = Record("generate");
  v1::AuditRecord second = Record("release");
  rocksdb::WriteBatch a, b;
  ASSERT_TRUE(log_.Stage(first, &a).ok());
  ASSERT_TRUE(log_.Stage(second, &b).ok());
  ASSERT_TRUE(log_.Commit(&b).ok());
  ASSERT_TRUE(log_.Commit(&a).ok());

  v1::AuditRecord at1, at2;
  ASSERT_TRUE(at1.ParseFromString(At(1).second));
  ASSERT_TRUE(at2.ParseFromString(At(2).second));
  EXPECT_EQ(at1.op(), "release");
  EXPECT_EQ(at1.chain_position(), 1u);
  EXPECT_EQ(at1.prev_hash(), std::string(32, '\0'));
  EXPECT_EQ(at2.op(), "generate");
  EXPECT_EQ(at2.prev_hash(), ChainHash(std::string(32, '\0'), 1, At(1).first, At(1).second));
  EXPECT_EQ(replica_.chain->head().position, 2u);

  v1::VerifyAuditResponse v = Verify();
  EXPECT_TRUE(v.ok()) << v.problem();
  EXPECT_EQ(v.records_checked(), 2u);
  EXPECT_EQ(v.unchained_records(), 0u);
  // Query still serves them in time order, chain fields included.
  v1::QueryAuditResponse q = log_.Query(v1::QueryAuditRequest()).value();
  ASSERT_EQ(q.records_size(), 2);
  EXPECT_EQ(q.records(0).op(), "generate");
  EXPECT_EQ(q.records(0).chain_position(), 2u);
}

TEST_F(AuditChainTest, EveryReplicaComputesTheSameChain) {
  AppendRecords(5);
  Replica other(dir_.path() + "/other");
  for (const std::string& command : replica_.commands)
    ASSERT_TRUE(other.ApplyCommand(command).ok());
  EXPECT_EQ(other.chain->head().position, 5u);
  EXPECT_EQ(other.chain->head().hash, replica_.chain->head().hash);
  // And the head survives a reopen of the chain.
  AuditChain reloaded(replica_.kv.get());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.head().hash, replica_.chain->head().hash);
}

TEST_F(AuditChainTest, ARejectedCommandTakesNoPosition) {
  AppendRecords(1);
  rocksdb::WriteBatch bad;
  ASSERT_TRUE(log_.Stage(Record("release"), &bad).ok());
  bad.Delete(replica_.kv->cf(kAuditColumnFamily), std::string(16, 'k'));  // append-only
  EXPECT_FALSE(replica_.Write(&bad).ok());
  AppendRecords(1);
  EXPECT_EQ(replica_.chain->head().position, 2u);
  EXPECT_TRUE(Verify().ok()) << Verify().problem();
}

TEST_F(AuditChainTest, AnAlteredRecordFailsAtItsPosition) {
  AppendRecords(5);
  auto [key, value] = At(3);
  v1::AuditRecord r;
  ASSERT_TRUE(r.ParseFromString(value));
  r.set_result("PERMISSION_DENIED");
  Put(kAuditColumnFamily, key, r.SerializeAsString());
  v1::VerifyAuditResponse v = Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.first_bad_position(), 3u);
  EXPECT_EQ(v.first_bad_time_micros(), r.time_micros());
  EXPECT_NE(v.problem().find("altered"), std::string::npos) << v.problem();
}

TEST_F(AuditChainTest, ADeletedRecordFailsAtItsPosition) {
  AppendRecords(5);
  Delete(kAuditColumnFamily, At(2).first);
  ExpectBadAt(2, "missing");
}

TEST_F(AuditChainTest, ARecordDeletedWithItsLinkFailsAtItsPosition) {
  AppendRecords(5);
  Delete(kAuditColumnFamily, At(4).first);
  Delete(kAuditChainColumnFamily, ChainLinkKey(4));
  ExpectBadAt(4, "missing");
}

TEST_F(AuditChainTest, SwappedRecordsFailAtTheFirstOfThem) {
  AppendRecords(5);
  auto [key2, value2] = At(2);
  auto [key3, value3] = At(3);
  Put(kAuditColumnFamily, key2, value3);
  Put(kAuditColumnFamily, key3, value2);
  ExpectBadAt(2, "out of order");
}

TEST_F(AuditChainTest, AnInsertedRecordIsFound) {
  AppendRecords(2);
  v1::AuditRecord forged = Record("release");
  rocksdb::WriteBatch b;
  ASSERT_TRUE(log_.Stage(forged, &b).ok());
  ASSERT_TRUE(replica_.kv->Write(&b).ok());  // behind the state machine's back
  v1::VerifyAuditResponse v = Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.problem().find("inserted"), std::string::npos) << v.problem();
}

TEST_F(AuditChainTest, SignedHeadsVerifyAndCatchATruncatedTail) {
  std::unique_ptr<AuditSigner> signer =
      AuditSigner::FromPemFile(DefaultFilesystem(), WriteSigningKey(dir_.path() + "/sign.pem"))
          .value();
  trusted_.Add(signer->public_key());
  AppendRecords(3);
  EXPECT_EQ(SignAuditHead(replica_.kv.get(), &replica_, *signer, &clock_).value(), 3u);
  EXPECT_EQ(SignAuditHead(replica_.kv.get(), &replica_, *signer, &clock_).value(), 0u);  // done
  v1::VerifyAuditResponse v = Verify();
  EXPECT_TRUE(v.ok()) << v.problem();
  EXPECT_EQ(v.signed_heads_checked(), 1u);
  EXPECT_EQ(v.signed_position(), 3u);

  // Cut the last record off with its link and rewrite the head: only the signed head shows it.
  ChainHead two;
  two.position = 2;
  two.hash = replica_.kv->Get(kAuditChainColumnFamily, ChainLinkKey(2)).value().substr(16);
  Delete(kAuditColumnFamily, At(3).first);
  Delete(kAuditChainColumnFamily, ChainLinkKey(3));
  Put(kAuditChainColumnFamily, "head", BigEndian64(2) + two.hash);
  v = Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.first_bad_position(), 3u);
  EXPECT_NE(v.problem().find("signed head"), std::string::npos) << v.problem();
}

TEST_F(AuditChainTest, AHeadSignedByAnUntrustedKeyFails) {
  std::unique_ptr<AuditSigner> signer =
      AuditSigner::FromPemFile(DefaultFilesystem(), WriteSigningKey(dir_.path() + "/sign.pem"))
          .value();
  AppendRecords(2);
  ASSERT_TRUE(SignAuditHead(replica_.kv.get(), &replica_, *signer, &clock_).ok());
  v1::VerifyAuditResponse v = Verify();  // trusted_ is empty
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.first_bad_position(), 2u);
  EXPECT_NE(v.problem().find("not trusted"), std::string::npos) << v.problem();

  // A forged signature under a trusted key id fails too.
  trusted_.Add(signer->public_key());
  v1::SignedAuditHead head;
  ASSERT_TRUE(
      head.ParseFromString(replica_.kv->Get(kAuditHeadsColumnFamily, BigEndian64(2)).value()));
  head.set_time_micros(head.time_micros() + 1);
  Put(kAuditHeadsColumnFamily, BigEndian64(2), head.SerializeAsString());
  v = Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.problem().find("signature is not valid"), std::string::npos) << v.problem();
}

TEST_F(AuditChainTest, ASigningKeyReadableByOthersIsRefused) {
  const std::string path = WriteSigningKey(dir_.path() + "/open.pem");
  ::chmod(path.c_str(), 0644);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(AuditSigner::FromPemFile(DefaultFilesystem(), path).status()));
}

}  // namespace
}  // namespace medvault::keyservice
