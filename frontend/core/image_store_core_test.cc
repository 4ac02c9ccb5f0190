// Unit tests of the frontend core against in-memory fakes of the key service, metaserver and chunk
// servers. The real services are exercised by tests/cluster_test.cc.
#include "frontend/core/image_store_core.h"

#include <gtest/gtest.h>

#include "frontend/core/core_fakes_test.h"

namespace medvault::frontend {
namespace {

class ImageStoreCoreTest : public ::testing::Test {
 protected:
  ImageStoreCoreTest() : meta_(&keys_), core_(&keys_, &meta_, &chunks_, Options(), &clock_) {}
  static FrontendOptions Options() {
    FrontendOptions o;
    o.chunk_size = 64 << 10;  // several chunks per test file
    o.dek_batch = 4;
    return o;
  }
  absl::StatusOr<std::string> GetAll(const std::string& uid, uint64_t offset = 0, uint64_t length = 0) {
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(uid);
    req.set_offset(offset);
    req.set_length(length);
    std::string out;
    absl::Status s = core_.Get(req, [&](const v1::InstanceInfo*, uint64_t off, absl::string_view data) {
      EXPECT_EQ(off, offset + out.size());
      out.append(data.data(), data.size());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  FakeClock clock_;
  FakeKeys keys_;
  FakeMeta meta_;
  FakeChunks chunks_;
  ImageStoreCore core_;
  std::string ct_ = ReadTestFile("CT_small.dcm");          // ~39 KB: one chunk
  std::string mr_ = ReadTestFile("waveform_ecg.dcm");  // ~291 KB: five chunks at 64 KiB
};

TEST_F(ImageStoreCoreTest, PutThenGetIsByteExactAcrossChunks) {
  for (const std::string* file : {&ct_, &mr_}) {
    auto put = core_.Put(*file);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_FALSE(put->already_stored());
    EXPECT_EQ(put->size(), file->size());
    EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), *file);
  }
  EXPECT_GT(mr_.size(), 2u * (64 << 10));
}

TEST_F(ImageStoreCoreTest, StaleExistsHintIsConfirmedAndTheInstanceStored) {
  meta_.stale_exists_hint = true;  // the leader's hint says "stored"; the quorum read says not
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_FALSE(put->already_stored());
  EXPECT_EQ(meta_.commits, 1);
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), ct_);
}

TEST_F(ImageStoreCoreTest, StaleAbsentHintEndsAsAlreadyStoredWithTheKeyAbandoned) {
  ASSERT_TRUE(core_.Put(ct_).ok());
  const size_t destroyed_before = keys_.destroyed.size();
  meta_.stale_exists_hint = false;  // the hint missed the stored instance: the commit catches it
  meta_.commit_error = absl::OkStatus();
  auto again = core_.Put(ct_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_stored());
  EXPECT_EQ(GetAll(again->sop_instance_uid()).value(), ct_);
  EXPECT_EQ(keys_.destroyed.size(), destroyed_before + 1) << "the second put's key must be destroyed";
}

TEST_F(ImageStoreCoreTest, PutReportsWhereItsTimeWent) {
  chunks_.on_write = [&] { clock_.Advance(30'000); };
  meta_.on_commit = [&] { clock_.Advance(20'000); };
  PutTimings timings;
  ASSERT_TRUE(core_.Put(mr_, &timings).ok());
  EXPECT_DOUBLE_EQ(timings.write, 5 * 0.030);  // five chunks; this fake writes inside StartWrite
  EXPECT_DOUBLE_EQ(timings.commit, 0.020);
  EXPECT_DOUBLE_EQ(timings.parse + timings.lookup + timings.key + timings.place + timings.seal, 0.0);
}

TEST_F(ImageStoreCoreTest, ChunkServersHoldOnlyCiphertext) {
  ASSERT_TRUE(core_.Put(ct_).ok());
  ASSERT_FALSE(chunks_.stored.empty());
  for (const auto& [where, data] : chunks_.stored) {
    EXPECT_EQ(data.find("DICM"), std::string::npos);
    EXPECT_EQ(data.find("CompressedSamples"), std::string::npos);
    EXPECT_EQ(data.find("1.3.6.1.4.1.5962"), std::string::npos);
  }
}

TEST_F(ImageStoreCoreTest, RangesDecryptOnlyWhatIsAsked) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok());
  const std::string& uid = put->sop_instance_uid();
  chunks_.reads = 0;
  EXPECT_EQ(GetAll(uid, 65530, 20).value(), mr_.substr(65530, 20));  // spans a chunk boundary
  EXPECT_EQ(chunks_.reads, 2);  // chunks 0 and 1 of 5, nothing else
  EXPECT_EQ(GetAll(uid, 100).value(), mr_.substr(100));
  EXPECT_EQ(GetAll(uid, mr_.size()).value(), "");
  EXPECT_EQ(GetAll(uid, mr_.size() + 1).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(ImageStoreCoreTest, CorruptReplicaFailsOverToAGoodOne) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok());
  for (auto& [where, data] : chunks_.stored) {
    if (where.first == "cs0") data[data.size() / 2] ^= 0x01;
  }
  chunks_.down.insert("cs1");
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), mr_);
  EXPECT_GT(core_.stats().read_failovers.load(), 0u);
  // The corrupt replicas are reported for repair; the unreachable server's are not.
  ASSERT_FALSE(meta_.bad_replicas.empty());
  for (const auto& [chunk, server] : meta_.bad_replicas) EXPECT_EQ(server, "s0");
}

TEST_F(ImageStoreCoreTest, AllReplicasCorruptIsDataLoss) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok());
  for (auto& [where, data] : chunks_.stored) data[20] ^= 0x01;
  EXPECT_EQ(GetAll(put->sop_instance_uid()).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ImageStoreCoreTest, FailedReplicaWriteCommitsNothingAndShredsTheKey) {
  chunks_.down.insert("cs2");
  auto put = core_.Put(ct_);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_TRUE(meta_.instances.empty());
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

TEST_F(ImageStoreCoreTest, CommitAppliedButReplyLostKeepsTheKeyAndSucceeds) {
  meta_.commit_error = absl::DeadlineExceededError("deadline exceeded");
  meta_.apply_commit = true;
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();  // the lookup shows our object landed
  EXPECT_FALSE(put->already_stored());
  EXPECT_TRUE(keys_.destroyed.empty());
  meta_.commit_error = absl::OkStatus();
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), ct_);
}

TEST_F(ImageStoreCoreTest, CommitWithUnknownOutcomeNeverDestroysTheKey) {
  meta_.commit_error = absl::UnavailableError("connection reset");
  meta_.apply_commit = false;
  auto put = core_.Put(ct_);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(keys_.destroyed.empty());  // the commit might still land: the key must survive
  EXPECT_EQ(core_.stats().uncertain_commits.load(), 1u);
}

TEST_F(ImageStoreCoreTest, CommitDefinitelyRejectedDestroysTheKey) {
  meta_.commit_error = absl::InvalidArgumentError("bad manifest");
  meta_.apply_commit = false;
  EXPECT_EQ(core_.Put(ct_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

TEST_F(ImageStoreCoreTest, WritePhaseLongerThanTheLimitIsNotCommitted) {
  chunks_.on_write = [&] { clock_.Advance(int64_t{301} * 1'000'000); };
  EXPECT_EQ(core_.Put(ct_).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

TEST_F(ImageStoreCoreTest, ResendIsIdempotentAndConflictingContentIsRefused) {
  ASSERT_TRUE(core_.Put(ct_).ok());
  auto again = core_.Put(ct_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_stored());
  EXPECT_EQ(meta_.commits, 1);
  std::string changed = ct_;
  changed[changed.size() - 1] ^= 0x01;  // a pixel byte
  auto conflict = core_.Put(changed);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(std::string(conflict.status().message()).find("1.3.6"), std::string::npos);
}

TEST_F(ImageStoreCoreTest, NotDicomIsInvalidArgumentAndWritesNothing) {
  EXPECT_EQ(core_.Put("hello, not an image").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(chunks_.stored.empty());
  EXPECT_TRUE(keys_.keys.empty());
}

TEST_F(ImageStoreCoreTest, DeleteShredsTheKeyThenConfirms) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok());
  std::string object_id = meta_.instances.begin()->second.manifest().object_id();
  v1::DeleteInstanceRequest del;
  del.set_sop_instance_uid(put->sop_instance_uid());
  ASSERT_TRUE(core_.DeleteInstance(del).ok());
  EXPECT_TRUE(keys_.destroyed.count(object_id));
  EXPECT_TRUE(meta_.confirmed.count(object_id));
  EXPECT_EQ(GetAll(put->sop_instance_uid()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageStoreCoreTest, ShutdownDestroysUnusedPooledKeys) {
  ASSERT_TRUE(core_.Put(ct_).ok());  // takes 1 of a batch of 4
  EXPECT_EQ(keys_.keys.size(), 4u);
  ASSERT_TRUE(core_.Shutdown().ok());
  EXPECT_EQ(keys_.keys.size(), 1u);
}

}  // namespace
}  // namespace medvault::frontend
