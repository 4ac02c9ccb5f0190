// Issue 18's tamper-evident audit with the real binaries: a 3-replica key service chains every
// audit record as it applies it, so after concurrent key releases from several clients every
// replica holds the same chain and `medvault audit verify` finds it clean; then a record is
// altered, deleted (with its chain link) or reordered directly in the stopped key services'
// RocksDB, and `verify` fails at that record's position, each kind in turn.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/kv.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "common/testing/signing_key.h"
#include "common/testing/temp_dir.h"
#include "keyservice/core/audit_chain.h"
#include "keyservice/core/audit_log.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using ::medvault::testing::WriteSigningKey;

using testing::ExternalCluster;
namespace fs = std::filesystem;
namespace ks = keyservice;
using testing::ReadWholeFile;

constexpr uint64_t kTampered = 5;  // the chain position each tampering hits

testing::CommandResult Cli(const ExternalCluster& cluster, std::vector<std::string> args) {
  std::vector<std::string> argv = cluster.Cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

// Opens a stopped key service's database with every column family it has.
std::unique_ptr<KvStore> OpenStopped(const std::string& data_dir) {
  std::vector<std::string> families;
  rocksdb::Status listed =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir + "/db", &families);
  EXPECT_TRUE(listed.ok()) << listed.ToString();
  std::vector<std::string> named;
  for (const std::string& f : families) {
    if (f != rocksdb::kDefaultColumnFamilyName) named.push_back(f);
  }
  absl::StatusOr<std::unique_ptr<KvStore>> kv = KvStore::Open(data_dir + "/db", named);
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? *std::move(kv) : nullptr;
}

// The record key and stored bytes at a chain position.
std::pair<std::string, std::string> RecordAt(const KvStore& kv, uint64_t position) {
  std::string link = kv.Get(ks::kAuditChainColumnFamily, ks::ChainLinkKey(position)).value();
  std::string key = link.substr(0, 16);
  return {key, kv.Get(ks::kAuditColumnFamily, key).value()};
}

void Write(KvStore* kv, const std::function<void(rocksdb::WriteBatch*)>& fill) {
  rocksdb::WriteBatch batch;
  fill(&batch);
  ASSERT_TRUE(kv->Write(&batch).ok());
}

// Each replica's database, opened while every key service is stopped.
class StoppedKeyServices {
 public:
  // With `open` false the databases are left closed (to be replaced).
  explicit StoppedKeyServices(ExternalCluster* cluster, bool open = true) : cluster_(cluster) {
    for (const std::string& name : cluster_->Replicas("keyservice")) {
      if (cluster_->IsRunning(name)) EXPECT_TRUE(cluster_->Kill(name).ok()) << name;
    }
    if (open) OpenAll();
  }
  void OpenAll() {
    for (const std::string& name : cluster_->Replicas("keyservice")) {
      dbs_.push_back(OpenStopped(cluster_->DataDirOf(name)));
    }
  }
  // Closes the databases and starts every replica again.
  ~StoppedKeyServices() {
    dbs_.clear();
    for (const std::string& name : cluster_->Replicas("keyservice")) {
      EXPECT_TRUE(cluster_->Restart(name).ok()) << name;
    }
  }
  const std::vector<std::unique_ptr<KvStore>>& dbs() const { return dbs_; }

 private:
  ExternalCluster* const cluster_;
  std::vector<std::unique_ptr<KvStore>> dbs_;
};

class AuditChainClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ClusterOptions options;
    options.replicas = 3;
    options.keyservice_flags = {"--audit_signing_key=" +
                                WriteSigningKey(key_dir_.path() + "/audit-signing.pem")};
    cluster_ = std::make_unique<ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
  }

  // `medvault audit verify --json`, asked again while the restarted group elects a leader.
  std::string Verify(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"audit", "verify", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    testing::CommandResult r;
    for (int attempt = 0; attempt < 60; ++attempt) {
      r = Cli(*cluster_, args);
      if (absl::StrContains(r.out, "\"ok\":")) break;
      // Not answered (the group is electing, or the frontend has not found the new leader yet):
      // wait for a leader and ask again.
      EXPECT_TRUE(cluster_->LeaderOf("keyservice").ok()) << r.err;
    }
    EXPECT_TRUE(absl::StrContains(r.out, "\"ok\":")) << r.out << r.err;
    return r.out;
  }

  // Stores a few instances, then reads each back from several clients at once: every read
  // releases a key, each release an audit record committed concurrently with the others.
  void ConcurrentReleases(int clients, int reads_each) {
    testing::DicomInstanceFactory factory(
        ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
    auto stub = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
    std::vector<std::string> uids;
    for (int i = 0; i < 3; ++i) {
      const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.18.", i + 1);
      absl::StatusOr<std::string> bytes = factory.WithSopInstanceUid(uid);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      ASSERT_TRUE(testing::PutInstance(stub.get(), *bytes).ok());
      uids.push_back(uid);
    }
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        auto own = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
        for (int i = 0; i < reads_each; ++i) {
          if (!testing::GetInstance(own.get(), uids[(c + i) % uids.size()]).ok()) ++failed;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
  }

  testing::TempDir key_dir_;
  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(AuditChainClusterTest, ConcurrentReleasesChainIdenticallyAndVerifyCleanThenTamperingFails) {
  ConcurrentReleases(/*clients=*/4, /*reads_each=*/10);
  const std::string clean = Verify({"--sign"});
  EXPECT_TRUE(absl::StrContains(clean, "\"ok\":true")) << clean;
  EXPECT_FALSE(absl::StrContains(clean, "\"records_checked\":0,")) << clean;
  EXPECT_FALSE(absl::StrContains(clean, "\"signed_heads_checked\":0,")) << clean;

  {
    // Every replica computed the same chain. A follower killed mid-way may not have applied the
    // last entries yet, so they are compared up to the shortest replica's head.
    StoppedKeyServices stopped(cluster_.get());
    uint64_t common = UINT64_MAX;
    for (const auto& db : stopped.dbs()) {
      absl::StatusOr<ks::ChainHead> head = ks::ReadChainHead(*db);
      ASSERT_TRUE(head.ok()) << head.status();
      common = std::min(common, head->position);
    }
    EXPECT_GE(common, 40u);  // at least one record per release
    std::set<std::string> hashes;
    for (const auto& db : stopped.dbs()) {
      hashes.insert(db->Get(ks::kAuditChainColumnFamily, ks::ChainLinkKey(common)).value());
    }
    EXPECT_EQ(hashes.size(), 1u) << "replicas disagree on the chain at position " << common;
  }

  struct Tampering {
    const char* name;
    const char* problem;
    std::function<void(KvStore*)> apply;
  };
  const std::vector<Tampering> tamperings = {
      {"alter", "altered",
       [](KvStore* kv) {
         auto [key, value] = RecordAt(*kv, kTampered);
         v1::AuditRecord r;
         ASSERT_TRUE(r.ParseFromString(value));
         r.set_result("PERMISSION_DENIED");
         Write(kv, [&](rocksdb::WriteBatch* b) {
           b->Put(kv->cf(ks::kAuditColumnFamily), key, r.SerializeAsString());
         });
       }},
      {"delete", "missing",
       [](KvStore* kv) {
         const std::string key = RecordAt(*kv, kTampered).first;
         Write(kv, [&](rocksdb::WriteBatch* b) {
           b->Delete(kv->cf(ks::kAuditColumnFamily), key);
           b->Delete(kv->cf(ks::kAuditChainColumnFamily), ks::ChainLinkKey(kTampered));
         });
       }},
      {"reorder", "out of order",
       [](KvStore* kv) {
         auto [key1, value1] = RecordAt(*kv, kTampered);
         auto [key2, value2] = RecordAt(*kv, kTampered + 1);
         Write(kv, [&](rocksdb::WriteBatch* b) {
           b->Put(kv->cf(ks::kAuditColumnFamily), key1, value2);
           b->Put(kv->cf(ks::kAuditColumnFamily), key2, value1);
         });
       }},
  };
  for (const Tampering& t : tamperings) {
    SCOPED_TRACE(t.name);
    const std::string backup = cluster_->root() + "/backup";
    {
      // The same tampering on every replica (whichever leads answers verify), each database
      // kept first so the next kind starts from the clean log.
      StoppedKeyServices stopped(cluster_.get(), /*open=*/false);
      fs::remove_all(backup);
      fs::create_directories(backup);
      for (const std::string& name : cluster_->Replicas("keyservice")) {
        fs::copy(cluster_->DataDirOf(name), backup + "/" + name, fs::copy_options::recursive);
      }
      stopped.OpenAll();
      for (const auto& db : stopped.dbs()) t.apply(db.get());
    }
    const std::string bad = Verify();
    EXPECT_TRUE(absl::StrContains(bad, "\"ok\":false")) << bad;
    EXPECT_TRUE(absl::StrContains(bad, absl::StrCat("\"first_bad_position\":", kTampered, ",")))
        << bad;
    EXPECT_TRUE(absl::StrContains(bad, t.problem)) << bad;
    {
      StoppedKeyServices stopped(cluster_.get(), /*open=*/false);
      for (const std::string& name : cluster_->Replicas("keyservice")) {
        fs::remove_all(cluster_->DataDirOf(name));
        fs::copy(backup + "/" + name, cluster_->DataDirOf(name), fs::copy_options::recursive);
      }
    }
  }
}

}  // namespace
}  // namespace medvault
