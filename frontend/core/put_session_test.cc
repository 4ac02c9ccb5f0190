// Unit tests of the streamed put (put_session.h) against the in-memory fakes: chunks are written
// while the file arrives, the window bounds what is in flight, and a put that fails part-way
// commits nothing and destroys its key.
#include "frontend/core/put_session.h"

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "frontend/core/image_store_core.h"
#include "frontend/testing/core_fakes.h"
#include "frontend/testing/dicom_bytes.h"

namespace medvault::frontend {
namespace {

constexpr uint32_t kChunk = 64 << 10;

// A DICOM instance with `pixel_bytes` of pixel data (random, so no two are alike).
std::string SyntheticInstance(const std::string& sop_uid, size_t pixel_bytes) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_SOPClassUID, UID_DigitalMammographyXRayImageStorageForPresentation)
          .good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPInstanceUID, sop_uid.c_str()).good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1143.77.1").good());
  EXPECT_TRUE(
      ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1143.77.2").good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_PatientID, "P-77").good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_Modality, "MG").good());
  const std::string pixels = RandomBytes(pixel_bytes).value();
  EXPECT_TRUE(ds->putAndInsertUint8Array(DCM_PixelData,
                                         reinterpret_cast<const Uint8*>(pixels.data()),
                                         static_cast<unsigned long>(pixels.size()))
                  .good());
  return DicomBytes(file, pixel_bytes + (64 << 10));
}

FrontendOptions Options(uint32_t window) {
  FrontendOptions o;
  o.chunk_size = kChunk;
  o.dek_batch = 4;
  o.max_chunks_in_flight = window;
  o.placement_batch = 3;  // several AllocateChunks calls per file
  return o;
}

class PutSessionTest : public ::testing::Test {
 protected:
  PutSessionTest()
      : meta_(&keys_),
        pool_(&keys_, options_.dek_batch),
        budget_(options_.chunk_budget),
        placer_(&meta_, options_.replicas, &clock_),
        committer_(&keys_, &meta_, &stats_),
        reader_(&keys_, &meta_, &chunks_, options_, &clock_) {}

  // A session built from the fixture's own collaborators, not from an ImageStoreCore: the put
  // path stands alone.
  std::unique_ptr<PutSession> StartPut() {
    return std::make_unique<PutSession>(PutContext{&options_, &clock_, &meta_, &chunks_, &pool_,
                                                   &budget_, &placer_, &committer_, &stats_},
                                        nullptr);
  }
  absl::StatusOr<v1::PutInstanceResponse> Put(absl::string_view bytes) {
    std::unique_ptr<PutSession> session = StartPut();
    if (absl::Status s = session->Append(bytes); !s.ok()) return s;
    return session->Finish();
  }

  // Feeds `bytes` to `session` in pieces of `piece` bytes, up to `until`.
  static absl::Status Feed(PutSession* session, absl::string_view bytes, size_t piece,
                           size_t until) {
    for (size_t at = 0; at < until; at += piece) {
      absl::Status s = session->Append(bytes.substr(at, std::min(piece, until - at)));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  size_t StoredChunkCopies() const { return chunks_.stored.size(); }

  FakeClock clock_;
  FakeKeys keys_;
  FakeMeta meta_;
  FakeChunks chunks_;
  const FrontendOptions options_ = Options(8);
  CoreStats stats_;
  DekPool pool_;
  SlotPool budget_;
  ChunkPlacer placer_;
  PutCommitter committer_;
  ImageStoreCore reader_;  // reads back what the sessions stored
  const std::string large_ =
      SyntheticInstance("1.2.826.0.1.3680043.2.1143.77.3", 10 * kChunk + 123);
};

TEST_F(PutSessionTest, ChunksAreWrittenWhileTheFileArrives) {
  std::unique_ptr<PutSession> session = StartPut();
  ASSERT_TRUE(Feed(session.get(), large_, 16 << 10, large_.size() / 2).ok());
  // Half the file in: its full chunks are on every replica already, and nothing is committed.
  EXPECT_GE(StoredChunkCopies(), 3u * 4);
  EXPECT_EQ(meta_.commits, 0);
  ASSERT_TRUE(session->Append(absl::string_view(large_).substr(large_.size() / 2)).ok());
  auto put = session->Finish();
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size(), large_.size());
  EXPECT_EQ(meta_.commits, 1);
  EXPECT_EQ(StoredChunkCopies(), 3u * 11);
  // Byte-exact through the read path.
  v1::GetInstanceRequest req;
  req.set_sop_instance_uid(put->sop_instance_uid());
  std::string back;
  ASSERT_TRUE(reader_
                  .Get(req,
                       [&](const v1::InstanceInfo*, uint64_t, absl::string_view d) {
                         back.append(d.data(), d.size());
                         return absl::OkStatus();
                       })
                  .ok());
  EXPECT_EQ(back, large_);
}

// The SOP Instance UID a C-STORE request names, and the study a STOW-RS URL names.
TEST_F(PutSessionTest, AFileUnderAnotherUidThanExpectedIsRefusedBeforeAnythingIsPlaced) {
  const std::string ct = ReadTestFile("CT_small.dcm");
  absl::StatusOr<v1::InstanceTags> tags = ParseDicomHeader(ct);
  ASSERT_TRUE(tags.ok());
  using Expect = std::function<void(PutSession*, std::string)>;
  const std::vector<std::pair<Expect, std::string>> expectations = {
      {[](PutSession* s, std::string uid) { s->ExpectSopInstanceUid(std::move(uid)); },
       tags->sop_instance_uid()},
      {[](PutSession* s, std::string uid) { s->ExpectStudyUid(std::move(uid)); },
       tags->study_uid()}};
  for (const auto& [expect, right] : expectations) {
    for (const std::string& file : {ct, large_}) {
      std::unique_ptr<PutSession> session = StartPut();
      expect(session.get(), "1.2.3.4");
      absl::Status fed = Feed(session.get(), file, 16 << 10, file.size());
      absl::Status status = fed.ok() ? session->Finish().status() : fed;
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    }
  }
  EXPECT_TRUE(meta_.allocations.empty());
  EXPECT_EQ(meta_.commits, 0);
  // The right UID stores.
  for (const auto& [expect, right] : expectations) {
    std::unique_ptr<PutSession> session = StartPut();
    expect(session.get(), right);
    ASSERT_TRUE(session->Append(ct).ok());
    EXPECT_TRUE(session->Finish().ok());
  }
}

TEST_F(PutSessionTest, PlacementsGrowWithTheFile) {
  // Smaller than a chunk: placed once, at the end, exactly.
  ASSERT_TRUE(Put(ReadTestFile("CT_small.dcm")).ok());
  EXPECT_EQ(meta_.allocations, std::vector<uint32_t>{1});
  // 11 chunks in pieces: a few calls that double, not one per chunk.
  meta_.allocations.clear();
  std::unique_ptr<PutSession> session = StartPut();
  ASSERT_TRUE(Feed(session.get(), large_, 16 << 10, large_.size()).ok());
  ASSERT_TRUE(session->Finish().ok());
  uint32_t placed = 0;
  for (uint32_t n : meta_.allocations) placed += n;
  EXPECT_LE(meta_.allocations.size(), 3u);
  EXPECT_GE(placed, 11u);
  EXPECT_LT(placed, 2u * 11);
}

TEST_F(PutSessionTest, AnyPieceSizeStoresTheSameBytes) {
  for (size_t piece : {size_t{1000}, size_t{kChunk}, size_t{kChunk + 1}, large_.size()}) {
    std::string file =
        SyntheticInstance("1.2.826.0.1.3680043.2.1143.77.10." + std::to_string(piece), 3 * kChunk);
    std::unique_ptr<PutSession> session = StartPut();
    ASSERT_TRUE(Feed(session.get(), file, piece, file.size()).ok());
    auto put = session->Finish();
    ASSERT_TRUE(put.ok()) << piece << ": " << put.status();
    EXPECT_EQ(meta_.instances.at(put->sop_instance_uid()).manifest().chunks_size(),
              static_cast<int>((file.size() + kChunk - 1) / kChunk));
  }
}

TEST_F(PutSessionTest, TruncatedFileFailsAtTheEndCommitsNothingAndShredsItsKey) {
  const std::string truncated =
      large_.substr(0, large_.size() - 1000);  // ends inside the pixel data
  std::unique_ptr<PutSession> session = StartPut();
  ASSERT_TRUE(Feed(session.get(), truncated, 32 << 10, truncated.size()).ok());
  EXPECT_GT(StoredChunkCopies(), 0u);  // written before the end showed the file was broken
  EXPECT_EQ(session->Finish().status().code(), absl::StatusCode::kInvalidArgument);
  session.reset();
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);  // the written chunks are orphans for garbage collection
}

TEST_F(PutSessionTest, AnAbandonedUploadShredsItsKey) {
  std::unique_ptr<PutSession> session = StartPut();
  ASSERT_TRUE(Feed(session.get(), large_, 64 << 10, large_.size() / 2).ok());
  session.reset();  // the client went away
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
  EXPECT_EQ(stats_.abandoned_puts.load(), 1u);
}

// Four chunk servers; one goes down in the middle of a put, before the metaserver knows. The
// chunks whose write failed are written again, whole, on three servers placed afresh without it,
// later chunks are placed without it, and the put succeeds with every chunk on three live servers.
TEST_F(PutSessionTest, AReplicaFailingMidStreamIsWrittenElsewhere) {
  meta_.servers = 4;
  int writes = 0;
  chunks_.on_write = [&] {
    if (++writes == 3) chunks_.down.insert("cs1");
  };
  std::unique_ptr<PutSession> session = StartPut();
  ASSERT_TRUE(Feed(session.get(), large_, 16 << 10, large_.size()).ok());
  absl::StatusOr<v1::PutInstanceResponse> put = session->Finish();
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(meta_.commits, 1);
  EXPECT_GE(stats_.chunks_replaced.load(), 1u);
  EXPECT_GE(stats_.replica_write_failures.load(), 1u);
  EXPECT_EQ(meta_.exclusions.back(), std::vector<std::string>{"s1"});
  // The copies at cs1 of earlier chunks still stand (they were written before it went down), so
  // check only the chunks placed after the failure never name it.
  const v1::ObjectManifest& m = meta_.instances.at(put->sop_instance_uid()).manifest();
  int naming_s1 = 0;
  for (const v1::ChunkLocation& loc : m.chunks()) {
    for (const std::string& server : loc.server_ids()) naming_s1 += server == "s1";
    for (const std::string& server : loc.server_ids()) {
      EXPECT_EQ(chunks_.stored.count({"c" + server, loc.chunk_id()}), 1u) << server;
    }
  }
  EXPECT_LE(naming_s1, 2) << "only the two chunks written before cs1 went down may name it";
  EXPECT_TRUE(keys_.destroyed.empty());
  session.reset();
  v1::GetInstanceRequest req;
  req.set_sop_instance_uid(put->sop_instance_uid());
  std::string back;
  chunks_.down.clear();
  ASSERT_TRUE(reader_
                  .Get(req,
                       [&](const v1::InstanceInfo*, uint64_t, absl::string_view d) {
                         back.append(d.data(), d.size());
                         return absl::OkStatus();
                       })
                  .ok());
  EXPECT_EQ(back, large_);
}

// Every server fails: each chunk is tried on fresh servers until too few remain, and the put
// ends with the first failure's story, nothing committed, the key destroyed.
TEST_F(PutSessionTest, ReplacementStopsWhenNoServersAreLeft) {
  meta_.servers = 6;
  chunks_.on_write = [&] {
    for (int k = 0; k < 6; ++k) chunks_.down.insert("cs" + std::to_string(k));
  };
  std::unique_ptr<PutSession> session = StartPut();
  absl::Status fed = Feed(session.get(), large_, 16 << 10, large_.size());
  absl::Status end = fed.ok() ? session->Finish().status() : fed;
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  EXPECT_TRUE(absl::StrContains(end.message(), "placing the chunk elsewhere failed")) << end;
  session.reset();
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

// A put abandoned while a chunk waits to be written again ends at once (the wait is dropped)
// and destroys its key.
TEST_F(PutSessionTest, AnAbandonedPutDropsTheChunksWaitingToBeWrittenAgain) {
  meta_.servers = 4;
  int writes = 0;
  chunks_.on_write = [&] {
    if (++writes == 2) chunks_.down.insert("cs0");
  };
  std::unique_ptr<PutSession> session = StartPut();
  // Two chunks are written while this arrives (the third is full but may still be the last);
  // the second write fails, and nothing more is dispatched to write it again.
  ASSERT_TRUE(Feed(session.get(), large_, 16 << 10, 3 * kChunk).ok());
  EXPECT_EQ(writes, 2);
  session.reset();
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

TEST_F(PutSessionTest, AReplicaFailingMidStreamEndsThePut) {
  int writes = 0;
  chunks_.on_write = [&] {
    if (++writes == 3) chunks_.down.insert("cs1");
  };
  std::unique_ptr<PutSession> session = StartPut();
  absl::Status fed = Feed(session.get(), large_, 16 << 10, large_.size());
  absl::Status end = fed.ok() ? session->Finish().status() : fed;
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(end.message()).find("replica 1"), std::string::npos) << end;
  EXPECT_EQ(session->Append("more").code(), absl::StatusCode::kUnavailable);  // the error sticks
  session.reset();
  EXPECT_EQ(meta_.commits, 0);
  EXPECT_EQ(keys_.destroyed.size(), 1u);
}

TEST_F(PutSessionTest, ALargeResendWritesNothing) {
  ASSERT_TRUE(Put(large_).ok());
  const size_t copies = StoredChunkCopies();
  std::unique_ptr<PutSession> again = StartPut();
  ASSERT_TRUE(Feed(again.get(), large_, 16 << 10, large_.size()).ok());
  auto put = again->Finish();
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->already_stored());
  // Same UID, other pixels: refused, and nothing written either.
  std::string changed = large_;
  changed[changed.size() - 10] ^= 0x01;
  std::unique_ptr<PutSession> conflict = StartPut();
  ASSERT_TRUE(Feed(conflict.get(), changed, 16 << 10, changed.size()).ok());
  EXPECT_EQ(conflict->Finish().status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StoredChunkCopies(), copies);
  EXPECT_EQ(meta_.commits, 1);
}

// Chunk writes that complete only when the test says so.
class QueuedChunks : public ChunkClient {
 public:
  void StartWrite(const ReplicatedChunkWrite& w, WriteDone done) override {
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(
        [done = std::move(done), n = w.addresses.size()] { done(std::vector<absl::Status>(n)); });
    max_pending = std::max(max_pending, queue.size());
    cv.notify_all();
  }
  absl::StatusOr<ChunkRead> ReadChunk(const std::string&, const std::string&) override {
    return absl::UnimplementedError("write-only fake");
  }
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  size_t max_pending = 0;
  bool appended = false, finished = false;
};

// Puts `file` through `core` while completing the writes queued in `chunks` one at a time: during
// the upload only when the session has said it waits for room (CoreStats::put_window_waits), so a
// session that ignored its window would have put one more chunk in flight by then; after the
// upload, all of them.
absl::StatusOr<v1::PutInstanceResponse> PutCompletingWritesOnlyWhenAsked(ImageStoreCore& core,
                                                                         QueuedChunks& chunks,
                                                                         const std::string& file) {
  absl::StatusOr<v1::PutInstanceResponse> put;
  std::thread client([&] {
    std::unique_ptr<PutSession> session = core.StartPut();
    absl::Status fed = absl::OkStatus();
    for (size_t at = 0; at < file.size() && fed.ok(); at += kChunk)
      fed = session->Append(absl::string_view(file).substr(at, kChunk));
    {
      std::lock_guard<std::mutex> lock(chunks.mu);
      chunks.appended = true;
      chunks.cv.notify_all();
    }
    put = fed.ok() ? session->Finish() : absl::StatusOr<v1::PutInstanceResponse>(fed);
    session.reset();
    std::lock_guard<std::mutex> lock(chunks.mu);
    chunks.finished = true;
    chunks.cv.notify_all();
  });
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(chunks.mu);
    while (core.stats().put_window_waits.load() == seen && !chunks.finished &&
           !(chunks.appended && !chunks.queue.empty())) {
      lock.unlock();
      std::this_thread::yield();  // polling an event, not waiting for time to pass
      lock.lock();
    }
    if (chunks.finished && chunks.queue.empty()) break;
    seen = core.stats().put_window_waits.load();
    if (chunks.queue.empty()) continue;
    std::function<void()> complete = std::move(chunks.queue.front());
    chunks.queue.pop_front();
    lock.unlock();
    complete();
  }
  client.join();
  return put;
}

TEST(PutSessionWindowTest, AtMostTheWindowOfChunksIsInFlight) {
  FakeClock clock;
  FakeKeys keys;
  FakeMeta meta(&keys);
  QueuedChunks chunks;
  ImageStoreCore core(&keys, &meta, &chunks, Options(/*window=*/2), &clock);
  const std::string file = SyntheticInstance("1.2.826.0.1.3680043.2.1143.77.20", 6 * kChunk);
  absl::StatusOr<v1::PutInstanceResponse> put =
      PutCompletingWritesOnlyWhenAsked(core, chunks, file);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(chunks.max_pending, 2u);
  EXPECT_GE(core.stats().put_window_waits.load(), 4u);  // 7 chunks through a window of 2
  EXPECT_EQ(meta.commits, 1);
}

// A window of 8, but one slot left in the frontend's chunk budget: the put has its own write and
// one more in flight, never a third, and gives the slot back at the end.
TEST(PutSessionWindowTest, TheChunkBudgetNarrowsTheWindow) {
  FakeClock clock;
  FakeKeys keys;
  FakeMeta meta(&keys);
  QueuedChunks chunks;
  FrontendOptions options = Options(/*window=*/8);
  options.chunk_budget = 1;
  ImageStoreCore core(&keys, &meta, &chunks, options, &clock);
  const std::string file = SyntheticInstance("1.2.826.0.1.3680043.2.1143.77.21", 6 * kChunk);
  absl::StatusOr<v1::PutInstanceResponse> put =
      PutCompletingWritesOnlyWhenAsked(core, chunks, file);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(chunks.max_pending, 2u);
  EXPECT_EQ(core.chunk_budget().peak(), 1u);
  EXPECT_GT(core.chunk_budget().denials(), 0u);
  EXPECT_EQ(core.chunk_budget().in_use(), 0u);
  EXPECT_EQ(meta.commits, 1);
}

}  // namespace
}  // namespace medvault::frontend
