// Unit tests of the frontend core against in-memory fakes of the key service, metaserver and chunk
// servers. The real services are exercised by tests/cluster_test.cc.
#include "frontend/core/image_store_core.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#include "frontend/testing/core_fakes.h"

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
  // Every byte of the range, read through `core` (the fixture's when null).
  absl::StatusOr<std::string> GetAll(const std::string& uid, uint64_t offset = 0,
                                     uint64_t length = 0, ImageStoreCore* core = nullptr) {
    v1::GetInstanceRequest req;
    req.set_sop_instance_uid(uid);
    req.set_offset(offset);
    req.set_length(length);
    std::string out;
    absl::Status s =
        (core ? *core : core_)
            .Get(req, [&](const v1::InstanceInfo*, uint64_t off, absl::string_view data) {
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
  std::string ct_ = ReadTestFile("CT_small.dcm");      // ~39 KB: one chunk
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
  EXPECT_EQ(keys_.destroyed.size(), destroyed_before + 1)
      << "the second put's key must be destroyed";
}

TEST_F(ImageStoreCoreTest, PutReportsWhereItsTimeWent) {
  chunks_.on_write = [&] { clock_.Advance(30'000); };
  meta_.on_commit = [&] { clock_.Advance(20'000); };
  PutTimings timings;
  ASSERT_TRUE(core_.Put(mr_, &timings).ok());
  EXPECT_DOUBLE_EQ(timings.write, 5 * 0.030);  // five chunks; this fake writes inside StartWrite
  EXPECT_DOUBLE_EQ(timings.commit, 0.020);
  EXPECT_DOUBLE_EQ(timings.parse + timings.lookup + timings.key + timings.place + timings.seal,
                   0.0);
}

TEST_F(ImageStoreCoreTest, GetReportsWhereItsTimeWent) {
  FrontendOptions options = Options();
  options.read_window_chunks = 1;  // every chunk fetched when it is needed: one stage at a time
  options.read_hedge_delay = absl::Hours(1);
  ImageStoreCore serial(&keys_, &meta_, &chunks_, options, &clock_);
  auto put = serial.Put(mr_);
  ASSERT_TRUE(put.ok()) << put.status();
  const int chunks = meta_.instances.at(put->sop_instance_uid()).manifest().chunks_size();
  ASSERT_GT(chunks, 1);
  meta_.on_get_instance = [&] { clock_.Advance(7'000); };
  chunks_.on_read = [&](const std::string&, const std::string&) { clock_.Advance(3'000); };
  v1::GetInstanceRequest req;
  req.set_sop_instance_uid(put->sop_instance_uid());
  GetTimings timings;
  uint64_t received = 0;
  absl::Status read = serial.Get(
      req,
      [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) {
        if (!data.empty()) clock_.Advance(2'000);
        received += data.size();
        return absl::OkStatus();
      },
      "client/viewer", "", &timings);
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_EQ(received, mr_.size());
  EXPECT_DOUBLE_EQ(timings.lookup, 0.007);
  EXPECT_DOUBLE_EQ(timings.fetch, chunks * 0.003);
  EXPECT_DOUBLE_EQ(timings.send, chunks * 0.002);
  EXPECT_DOUBLE_EQ(timings.key + timings.decrypt, 0.0);  // the clock stood still for both
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
  EXPECT_EQ(chunks_.reads.load(), 2);  // chunks 0 and 1 of 5, nothing else
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

// Changes `data` (one bit at `at`, then the four bytes at `fix`) without changing its CRC32C, as a
// chunk server that forges a copy could: CRC32C is linear, so the four bytes solve 32 equations.
void ForgeKeepingCrc(std::string* data, size_t at, size_t fix) {
  const uint32_t crc = Crc32c(*data);
  auto effect = [&](size_t byte, int bit) {  // how flipping one bit changes the CRC
    (*data)[byte] ^= static_cast<char>(1 << bit);
    const uint32_t changed = Crc32c(*data) ^ crc;
    (*data)[byte] ^= static_cast<char>(1 << bit);
    return changed;
  };
  uint32_t basis[32] = {}, made_of[32] = {};  // basis[b]: highest bit b; made_of: which fix bits
  for (int j = 0; j < 32; ++j) {
    uint32_t v = effect(fix + j / 8, j % 8), c = 1u << j;
    for (int b = 31; b >= 0 && v != 0; --b) {
      if (!((v >> b) & 1)) continue;
      if (basis[b] == 0) {
        basis[b] = v;
        made_of[b] = c;
        break;
      }
      v ^= basis[b];
      c ^= made_of[b];
    }
  }
  uint32_t target = effect(at, 0), flips = 0;
  for (int b = 31; b >= 0; --b) {
    if (!((target >> b) & 1)) continue;
    ASSERT_NE(basis[b], 0u);
    target ^= basis[b];
    flips ^= made_of[b];
  }
  (*data)[at] ^= 0x01;
  for (int j = 0; j < 32; ++j) {
    if ((flips >> j) & 1) (*data)[fix + j / 8] ^= static_cast<char>(1 << (j % 8));
  }
  ASSERT_EQ(Crc32c(*data), crc);
}

TEST_F(ImageStoreCoreTest, CopyWithTheRightChecksumThatFailsAuthenticationFailsOver) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok());
  for (auto& [where, data] : chunks_.stored) {
    if (where.first == "cs0") ForgeKeepingCrc(&data, 40, 100);
  }
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), ct_);
  ASSERT_EQ(meta_.bad_replicas.size(), 1u);
  EXPECT_EQ(meta_.bad_replicas[0].second, "s0");
}

TEST_F(ImageStoreCoreTest, KeyReleaseAndChunkFetchRunAtOnce) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok());
  // Each side waits for the other to have started: a read that asks for the key only after its
  // chunk (or the other way round) times out here instead of overlapping.
  absl::Notification key_asked, chunk_asked;
  std::atomic<bool> key_saw_chunk{false}, chunk_saw_key{false};
  keys_.on_get_key = [&] {
    key_asked.Notify();
    key_saw_chunk = chunk_asked.WaitForNotificationWithTimeout(absl::Seconds(10));
  };
  chunks_.on_read = [&](const std::string&, const std::string&) {
    chunk_asked.Notify();
    chunk_saw_key = key_asked.WaitForNotificationWithTimeout(absl::Seconds(10));
  };
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), ct_);
  EXPECT_TRUE(key_saw_chunk);
  EXPECT_TRUE(chunk_saw_key);
}

TEST_F(ImageStoreCoreTest, ReadFetchesTheChunksAheadWithinItsWindow) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok());
  const v1::ObjectManifest& m = meta_.instances[put->sop_instance_uid()].manifest();
  ASSERT_EQ(m.chunks_size(), 5);
  // The fetch of chunk 0 holds until chunks 1-3 are being fetched too (window 4), and chunk 4
  // must wait for a free place in the window.
  absl::Mutex mu;
  std::set<std::string> asked;
  bool ahead = false;
  chunks_.on_read = [&](const std::string&, const std::string& id) {
    absl::MutexLock lock(&mu);
    asked.insert(id);
    if (id == m.chunks(0).chunk_id()) {
      ahead =
          mu.AwaitWithTimeout(absl::Condition(
                                  +[](std::set<std::string>* a) { return a->size() >= 4; }, &asked),
                              absl::Seconds(10));
      EXPECT_EQ(asked.count(m.chunks(4).chunk_id()), 0u);
    }
  };
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), mr_);
  EXPECT_TRUE(ahead);
  EXPECT_EQ(chunks_.reads.load(), 5);
}

// The fetch-ahead window grows only with slots of the frontend's chunk budget: with 2 slots a
// read of window 4 fetches chunks 0-2, not 0-3, and gives every slot back when it ends.
TEST_F(ImageStoreCoreTest, ReadAheadStaysWithinTheChunkBudget) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok());
  const v1::ObjectManifest& m = meta_.instances[put->sop_instance_uid()].manifest();
  ASSERT_EQ(m.chunks_size(), 5);
  FrontendOptions options = Options();
  options.chunk_budget = 2;
  ImageStoreCore narrow(&keys_, &meta_, &chunks_, options, &clock_);
  absl::Mutex mu;
  std::set<std::string> asked;
  bool ahead = false;
  uint32_t in_use_meanwhile = 0;
  chunks_.on_read = [&](const std::string&, const std::string& id) {
    absl::MutexLock lock(&mu);
    asked.insert(id);
    if (id == m.chunks(0).chunk_id()) {
      ahead =
          mu.AwaitWithTimeout(absl::Condition(
                                  +[](std::set<std::string>* a) { return a->size() >= 3; }, &asked),
                              absl::Seconds(10));
      in_use_meanwhile = narrow.chunk_budget().in_use();
      EXPECT_EQ(asked.count(m.chunks(3).chunk_id()), 0u);
    }
  };
  EXPECT_EQ(GetAll(put->sop_instance_uid(), 0, 0, &narrow).value_or(""), mr_);
  EXPECT_TRUE(ahead);
  EXPECT_EQ(in_use_meanwhile, 2u);
  EXPECT_EQ(narrow.chunk_budget().peak(), 2u);
  EXPECT_GT(narrow.chunk_budget().denials(), 0u);
  EXPECT_EQ(narrow.chunk_budget().in_use(), 0u);
}

// With no slots at all a read still completes, one chunk at a time, each fetched on the reading
// thread; and a read its client abandons part-way gives back what it held.
TEST_F(ImageStoreCoreTest, ReadWithoutBudgetGoesOneChunkAtATimeAndAnEndedReadHoldsNothing) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok());
  FrontendOptions options = Options();
  options.chunk_budget = 0;
  ImageStoreCore none(&keys_, &meta_, &chunks_, options, &clock_);
  const std::thread::id reader = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  chunks_.on_read = [&](const std::string&, const std::string&) {
    if (std::this_thread::get_id() != reader) ++elsewhere;
  };
  EXPECT_EQ(GetAll(put->sop_instance_uid(), 0, 0, &none).value_or(""), mr_);
  EXPECT_EQ(elsewhere.load(), 0);

  chunks_.on_read = nullptr;
  v1::GetInstanceRequest req;
  req.set_sop_instance_uid(put->sop_instance_uid());
  int pieces = 0;
  absl::Status abandoned =
      core_.Get(req, [&](const v1::InstanceInfo* info, uint64_t, absl::string_view) {
        if (info == nullptr && ++pieces == 2) return absl::CancelledError("client went away");
        return absl::OkStatus();
      });
  EXPECT_EQ(abandoned.code(), absl::StatusCode::kCancelled);
  EXPECT_GT(core_.chunk_budget().peak(), 0u);
  EXPECT_EQ(core_.chunk_budget().in_use(), 0u);
}

TEST_F(ImageStoreCoreTest, KeyErrorWinsOverChunkErrors) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok());
  keys_.keys.clear();  // the key was destroyed...
  for (const char* server : {"cs0", "cs1", "cs2"})
    chunks_.down.insert(server);  // ...and no replica answers
  EXPECT_EQ(GetAll(put->sop_instance_uid()).status().code(), absl::StatusCode::kNotFound);
}

// Issue 14, item 8: a metaserver that has just taken over may name no address for a manifest's
// replicas. The read tries them at the addresses the frontend already knows; when it knows none,
// the error is UNAVAILABLE and says to retry, never that a replica is unhealthy or lost.
TEST_F(ImageStoreCoreTest, ReadTriesKnownReplicasWhenTheLookupNamesNoAddress) {
  auto put = core_.Put(mr_);
  ASSERT_TRUE(put.ok()) << put.status();
  meta_.instances[put->sop_instance_uid()].clear_server_addresses();
  EXPECT_EQ(GetAll(put->sop_instance_uid()).value(), mr_);

  // A frontend that has placed nothing on those servers has nothing to try.
  ImageStoreCore fresh(&keys_, &meta_, &chunks_, Options(), &clock_);
  absl::StatusOr<std::string> read = GetAll(put->sop_instance_uid(), 0, 0, &fresh);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "no address is known")) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "retry")) << read.status();
  EXPECT_FALSE(absl::StrContains(read.status().message(), "healthy")) << read.status();
  EXPECT_FALSE(absl::StrContains(read.status().message(), "intact")) << read.status();
  EXPECT_TRUE(meta_.bad_replicas.empty());
  // Once the lookup names them again, that frontend reads too.
  for (int k = 0; k < 3; ++k) {
    (*meta_.instances[put->sop_instance_uid()]
          .mutable_server_addresses())["s" + std::to_string(k)] = "cs" + std::to_string(k);
  }
  EXPECT_EQ(GetAll(put->sop_instance_uid(), 0, 0, &fresh).value(), mr_);
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

TEST_F(ImageStoreCoreTest, RequestsNamingAnInvalidUidAreRefusedByFieldNameAndPaddingIsRemoved) {
  auto put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();
  for (const std::string& bad :
       {std::string("../x"), std::string("a/b"), std::string("1.2.3.abc def\x01"),
        std::string(65, '1'), std::string()}) {
    absl::Status get = GetAll(bad).status();
    EXPECT_EQ(get.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(get.message().find("sop_instance_uid"), std::string::npos) << get;
    if (!bad.empty()) EXPECT_EQ(get.message().find(bad), std::string::npos) << get;
    v1::GetStudyRequest study;
    study.set_study_uid(bad);
    EXPECT_EQ(core_.GetStudy(study).status().code(), absl::StatusCode::kInvalidArgument);
    v1::DeleteStudyRequest del_study;
    del_study.set_study_uid(bad);
    EXPECT_EQ(core_.DeleteStudy(del_study).status().code(), absl::StatusCode::kInvalidArgument);
    v1::DeleteInstanceRequest del;
    del.set_sop_instance_uid(bad);
    EXPECT_EQ(core_.DeleteInstance(del).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // A UID with its DICOM padding names the same instance.
  absl::StatusOr<std::string> padded = GetAll(put->sop_instance_uid() + std::string("\0", 1));
  ASSERT_TRUE(padded.ok()) << padded.status();
  EXPECT_EQ(*padded, ct_);
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
