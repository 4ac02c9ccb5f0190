// Unit tests of study key grants (key_grants.h) with a fake clock and the in-memory fakes: reads
// through ImageStoreCore::Get, two cores over the same fakes standing for two frontends. Issue
// 20's invariants: a key is served from a grant only after its one audited release succeeded; a
// grant serves only its caller and its study; a delete through any frontend fails the next read
// at once; crypto-shredding still destroys the key; an expired grant is wiped.
#include "frontend/core/key_grants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "frontend/core/image_store_core.h"
#include "frontend/testing/study_fakes.h"

namespace medvault::frontend {
namespace {

constexpr char kStudy[] = "1.2.826.0.1.3680043.2.1";
constexpr char kOtherStudy[] = "1.2.826.0.1.3680043.2.9";

// A key service that counts single releases and records every set release (one audit record).
class RecordingKeys : public FakeKeys {
 public:
  struct Release {
    std::vector<std::string> ids;
    KeyAudit audit;
  };
  absl::StatusOr<SecretBytes> GetDataKey(absl::string_view id, const KeyAudit& audit) override {
    ++single_releases;
    return FakeKeys::GetDataKey(id, audit);
  }
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GetDataKeys(
      const std::vector<std::string>& ids, const KeyAudit& audit) override {
    if (!set_error.ok()) return set_error;  // the audit record could not be written
    {
      std::lock_guard<std::mutex> lock(mu);
      releases.push_back(Release{ids, audit});
    }
    return KeysHeld(*this, ids);
  }
  std::mutex mu;
  std::vector<Release> releases;
  std::atomic<int> single_releases{0};
  absl::Status set_error;
};

constexpr int64_t kTtlMicros = 30'000'000;

class KeyGrantTest : public ::testing::Test {
 protected:
  static FrontendOptions Options(size_t manifest_cache_entries = 0) {
    FrontendOptions o;
    o.chunk_size = 64 << 10;
    o.key_grant_ttl = absl::Microseconds(kTtlMicros);
    o.key_grant_sweep_interval = absl::ZeroDuration();
    o.manifest_cache_entries = manifest_cache_entries;
    return o;
  }
  KeyGrantTest()
      : meta_(&keys_),
        a_(&keys_, &meta_, &chunks_, Options(), &clock_),
        b_(&keys_, &meta_, &chunks_, Options(), &clock_) {}

  // Stores `file` through b_ and files it under `study` in the index.
  std::string Store(const std::string& file, const std::string& study) {
    absl::StatusOr<v1::PutInstanceResponse> put = b_.Put(ReadTestFile(file));
    EXPECT_TRUE(put.ok()) << put.status();
    if (!put.ok()) return "";
    meta_.instances.at(put->sop_instance_uid())
        .mutable_info()
        ->mutable_tags()
        ->set_study_uid(study);
    files_[put->sop_instance_uid()] = ReadTestFile(file);
    return put->sop_instance_uid();
  }
  void SetUp() override {
    x_ = Store("waveform_ecg.dcm", kStudy);  // five chunks at 64 KiB
    y_ = Store("CT_small.dcm", kStudy);
    z_ = Store("MR_small.dcm", kOtherStudy);
  }
  std::string ObjectOf(const std::string& uid) {
    return meta_.instances.at(uid).manifest().object_id();
  }

  // Reads `uid` through `core` for `caller`; `answered` counts the sink's calls (info included).
  absl::StatusOr<std::string> Read(ImageStoreCore& core, const std::string& uid,
                                   const std::string& caller = "client/viewer",
                                   int* answered = nullptr) {
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(uid);
    std::string out;
    absl::Status s = core.Get(
        req,
        [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) {
          if (answered != nullptr) ++*answered;
          out.append(data.data(), data.size());
          return absl::OkStatus();
        },
        caller);
    if (!s.ok()) return s;
    return out;
  }
  // Checks `uid` reads back byte-exact through `core` for `caller`.
  void ExpectReads(ImageStoreCore& core, const std::string& uid,
                   const std::string& caller = "client/viewer") {
    absl::StatusOr<std::string> read = Read(core, uid, caller);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, files_.at(uid));
  }

  FakeClock clock_;
  RecordingKeys keys_;
  StudyIndexMeta meta_;
  FakeChunks chunks_;
  ImageStoreCore a_;  // the frontend that reads
  ImageStoreCore b_;  // another frontend
  std::map<std::string, std::string> files_;
  std::string x_, y_, z_;  // x_ and y_ in kStudy, z_ in kOtherStudy
};

TEST_F(KeyGrantTest, OneAuditedReleaseServesTheCallersReadsOfTheWholeStudy) {
  ExpectReads(a_, x_);
  ExpectReads(a_, y_);
  ExpectReads(a_, x_);
  ASSERT_EQ(keys_.releases.size(), 1u) << "one audited release for the study";
  const RecordingKeys::Release& r = keys_.releases[0];
  EXPECT_EQ(r.audit.on_behalf_of, "client/viewer");
  EXPECT_EQ(r.audit.purpose, KeyGrants::Purpose(kStudy));
  EXPECT_EQ(r.audit.purpose.find(kStudy), std::string::npos) << "a UID in an audit record";
  std::vector<std::string> ids = r.ids;
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> study = {ObjectOf(x_), ObjectOf(y_)};
  std::sort(study.begin(), study.end());
  EXPECT_EQ(ids, study) << "the record names every object of the study, and no other";
  EXPECT_EQ(keys_.single_releases.load(), 0);
  EXPECT_EQ(a_.key_grants().releases().load(), 1u);
  EXPECT_EQ(a_.key_grants().hits().load(), 2u);
}

TEST_F(KeyGrantTest, AGrantNeverServesAnotherCallerOrAnotherStudy) {
  ExpectReads(a_, x_);
  ExpectReads(a_, x_, "client/other");
  ASSERT_EQ(keys_.releases.size(), 2u) << "another caller was served from the viewer's grant";
  EXPECT_EQ(keys_.releases[1].audit.on_behalf_of, "client/other");
  ExpectReads(a_, z_);
  ASSERT_EQ(keys_.releases.size(), 3u) << "another study was served from the viewer's grant";
  EXPECT_EQ(keys_.releases[2].ids, std::vector<std::string>{ObjectOf(z_)});
  EXPECT_EQ(keys_.releases[2].audit.purpose, KeyGrants::Purpose(kOtherStudy));
  EXPECT_EQ(a_.key_grants().hits().load(), 0u);
  // An anonymous read (the frontend's own) never makes or uses a grant.
  ExpectReads(a_, x_, "");
  EXPECT_EQ(keys_.releases.size(), 3u);
  EXPECT_EQ(keys_.single_releases.load(), 1);
}

TEST_F(KeyGrantTest, NoKeyIsServedFromAGrantWhoseReleaseWasNotAudited) {
  keys_.set_error = absl::UnavailableError("audit write failed");
  ExpectReads(a_, x_);  // its own release, audited alone
  EXPECT_EQ(keys_.single_releases.load(), 1);
  EXPECT_EQ(a_.key_grants().size(), 0u) << "a grant without its audit record is held";
  ExpectReads(a_, y_);
  EXPECT_EQ(keys_.single_releases.load(), 2) << "a key came from an unaudited grant";
  EXPECT_EQ(a_.key_grants().hits().load(), 0u);
  // Once the key service records again, the next read makes the grant.
  keys_.set_error = absl::OkStatus();
  ExpectReads(a_, x_);
  ExpectReads(a_, y_);
  EXPECT_EQ(keys_.releases.size(), 1u);
  EXPECT_EQ(keys_.single_releases.load(), 2);
}

TEST_F(KeyGrantTest, ADeleteThroughAnotherFrontendFailsTheNextReadAndStillShredsTheKey) {
  ExpectReads(a_, x_);  // a_ now holds the keys of x_ and y_
  const std::string object = ObjectOf(x_);
  v1::DeleteInstanceRequest del;
  del.set_sop_instance_uid(x_);
  ASSERT_TRUE(b_.DeleteInstance(del, "client/deleter").ok());
  EXPECT_TRUE(keys_.destroyed.count(object)) << "the grant kept the key from being destroyed";
  int answered = 0;
  absl::StatusOr<std::string> read = Read(a_, x_, "client/viewer", &answered);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
  EXPECT_EQ(answered, 0) << "a deleted instance's info or bytes reached the client";
  ExpectReads(a_, y_);  // the rest of the study is still served by the grant
  EXPECT_EQ(a_.key_grants().hits().load(), 1u);
  EXPECT_EQ(keys_.single_releases.load(), 0);
}

TEST_F(KeyGrantTest, AnInstanceStoredAgainIsNotServedTheOldKey) {
  ExpectReads(a_, x_);
  v1::DeleteInstanceRequest del;
  del.set_sop_instance_uid(x_);
  ASSERT_TRUE(b_.DeleteInstance(del, "client/deleter").ok());
  ASSERT_EQ(Store("waveform_ecg.dcm", kStudy), x_);  // a new object and key under the same UID
  ExpectReads(a_, x_);
  EXPECT_EQ(keys_.single_releases.load(), 1) << "the grant does not cover the new object";
}

TEST_F(KeyGrantTest, ADeleteThroughThisFrontendWipesItsGrantedKeys) {
  ExpectReads(a_, x_);
  const v1::GetInstanceMetaResponse meta = meta_.instances.at(y_);
  const KeyAudit viewer{"client/viewer", "GetInstance", ""};
  ASSERT_TRUE(a_.key_grants().size() == 1u);
  v1::DeleteInstanceRequest del;
  del.set_sop_instance_uid(y_);
  ASSERT_TRUE(a_.DeleteInstance(del, "client/deleter").ok());
  // The grant, asked directly with the manifest the read had, no longer holds y_'s key.
  KeyGrants& grants = a_.key_grants();
  EXPECT_FALSE(grants.Find(meta, viewer).has_value());
  EXPECT_TRUE(grants.Find(meta_.instances.at(x_), viewer).has_value());
}

TEST_F(KeyGrantTest, AnExpiredGrantIsWipedAndTheNextReadReleasesAgain) {
  ExpectReads(a_, x_);
  clock_.Advance(kTtlMicros - 1);
  ExpectReads(a_, y_);
  EXPECT_EQ(keys_.releases.size(), 1u);
  clock_.Advance(1);
  a_.key_grants().Sweep();
  EXPECT_EQ(a_.key_grants().size(), 0u) << "an expired grant's keys are still held";
  ExpectReads(a_, y_);
  EXPECT_EQ(keys_.releases.size(), 2u) << "an expired grant served a read";
}

TEST_F(KeyGrantTest, AReadWithACachedManifestReleasesItsKeyAlone) {
  ImageStoreCore cached(&keys_, &meta_, &chunks_, Options(/*manifest_cache_entries=*/100), &clock_);
  ExpectReads(cached, x_);  // looked up: makes the grant
  ExpectReads(cached, x_);  // cached manifest: proves nothing, so the key service must answer
  EXPECT_EQ(cached.manifest_cache().hits().load(), 1u);
  EXPECT_EQ(keys_.single_releases.load(), 1);
  v1::DeleteInstanceRequest del;
  del.set_sop_instance_uid(x_);
  ASSERT_TRUE(b_.DeleteInstance(del, "client/deleter").ok());
  int answered = 0;
  EXPECT_EQ(Read(cached, x_, "client/viewer", &answered).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(answered, 0);
}

TEST_F(KeyGrantTest, GrantsOffReleaseEveryKeyAlone) {
  FrontendOptions off = Options();
  off.key_grant_ttl = absl::ZeroDuration();
  ImageStoreCore core(&keys_, &meta_, &chunks_, off, &clock_);
  ExpectReads(core, x_);
  ExpectReads(core, y_);
  EXPECT_EQ(keys_.releases.size(), 0u);
  EXPECT_EQ(keys_.single_releases.load(), 2);
}

// A study larger than one release is granted by the read instance's series; a series larger
// than one release is not granted at all (the read releases its key alone).
TEST(KeyGrantsTest, AStudyTooLargeForOneReleaseIsGrantedBySeriesAndALargerSeriesNotAtAll) {
  FakeClock clock;
  RecordingKeys keys;
  StudyIndexMeta meta(&keys);
  // Index records only: study "1.9" with 3 instances in series "1.9.1" and 999 in "1.9.2".
  auto add = [&](const std::string& series, int i) {
    v1::GetInstanceMetaResponse rec;
    v1::InstanceTags* tags = rec.mutable_info()->mutable_tags();
    tags->set_study_uid("1.9");
    tags->set_series_uid(series);
    tags->set_sop_instance_uid(series + "." + std::to_string(i));
    rec.mutable_manifest()->set_object_id(RandomBytes(16).value());
    keys.keys[rec.manifest().object_id()] = RandomBytes(32).value();
    meta.instances[tags->sop_instance_uid()] = rec;
  };
  for (int i = 0; i < 3; ++i) add("1.9.1", i);
  for (int i = 0; i < 999; ++i) add("1.9.2", i);
  KeyGrants grants(KeyGrantOptions{absl::Seconds(30)}, &keys, &meta, &clock);
  const KeyAudit viewer{"client/viewer", "GetInstance", ""};
  const v1::GetInstanceMetaResponse small = meta.instances.at("1.9.1.0");
  ASSERT_TRUE(grants.Key(small, viewer).has_value());
  ASSERT_EQ(keys.releases.size(), 1u);
  EXPECT_EQ(keys.releases[0].ids.size(), 3u) << "not the read instance's series alone";
  EXPECT_TRUE(grants.Find(meta.instances.at("1.9.1.2"), viewer).has_value());
  EXPECT_FALSE(grants.Find(meta.instances.at("1.9.2.0"), viewer).has_value());

  for (int i = 999; i < 1001; ++i) add("1.9.2", i);  // the series now holds 1001
  KeyGrants other(KeyGrantOptions{absl::Seconds(30)}, &keys, &meta, &clock);
  EXPECT_FALSE(other.Key(meta.instances.at("1.9.2.0"), viewer).has_value());
  EXPECT_EQ(keys.releases.size(), 1u) << "a release larger than the key service's limit";
  EXPECT_EQ(other.size(), 0u);
}

}  // namespace
}  // namespace medvault::frontend
