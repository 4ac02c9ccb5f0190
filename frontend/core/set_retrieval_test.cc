// Study / series retrieval against the in-memory fakes: order, one key release for the set,
// bounded read-ahead, and clear errors for an instance deleted or a key destroyed mid-way.
#include "frontend/core/set_retrieval.h"

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "frontend/testing/core_fakes.h"
#include "frontend/testing/dicom_bytes.h"
#include "frontend/testing/study_fakes.h"

namespace medvault::frontend {
namespace {

constexpr char kStudy[] = "1.2.826.0.1.3680043.2.1143.9.1";

// The key service fake, counting set releases (single releases count through on_get_key).
class SetKeys : public FakeKeys {
 public:
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> GetDataKeys(
      const std::vector<std::string>& ids, const KeyAudit& audit) override {
    ++set_releases;
    released_for = audit.purpose;
    if (!release_error.ok()) return release_error;
    return KeysHeld(*this, ids);
  }
  std::atomic<int> set_releases{0};
  std::string released_for;
  absl::Status release_error;
};

// A Part 10 file of study kStudy, series `series`, with `pixels` bytes of pixel data.
std::string Instance(int series, int index, size_t pixels) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage).good());
  const std::string sop = absl::StrCat("1.2.826.0.1.3680043.2.1143.9.", series, ".", 100 + index);
  EXPECT_TRUE(ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str()).good());
  EXPECT_TRUE(ds->putAndInsertString(DCM_StudyInstanceUID, kStudy).good());
  const std::string se = absl::StrCat("1.2.826.0.1.3680043.2.1143.9.", series);
  EXPECT_TRUE(ds->putAndInsertString(DCM_SeriesInstanceUID, se.c_str()).good());
  std::vector<Uint8> data(pixels, static_cast<Uint8>(index));
  EXPECT_TRUE(ds->putAndInsertUint8Array(DCM_PixelData, data.data(), data.size()).good());
  return DicomBytes(file, pixels + (64 << 10));
}

class SetRetrievalTest : public ::testing::Test {
 protected:
  SetRetrievalTest() : meta_(&keys_) {}
  FrontendOptions Options() {
    FrontendOptions o;
    o.chunk_size = 64 << 10;
    o.dek_batch = 4;
    o.read_ahead_instances = 2;
    o.read_ahead_bytes = 200 << 10;
    return o;
  }
  // Stores `count` instances in series 1 (sizes cycling through 10, 70 and 150 KiB) and one
  // 300 KiB instance in series 2 (beyond the read-ahead bytes: streamed alone).
  void Store(ImageStoreCore& core, int count) {
    for (int i = 0; i < count; ++i) {
      const size_t sizes[] = {10 << 10, 70 << 10, 150 << 10};
      std::string bytes = Instance(1, i, sizes[i % 3]);
      ASSERT_TRUE(core.Put(bytes).ok());
      stored_.push_back(bytes);
    }
    std::string big = Instance(2, 0, 300 << 10);
    ASSERT_TRUE(core.Put(big).ok());
    stored_.push_back(big);
  }
  // What the sink got: each instance's bytes, in order; checks the info comes first.
  struct Got {
    std::vector<std::string> instances;
    std::vector<std::string> uids;
  };
  static ImageStoreCore::Sink Collect(Got* got) {
    return [got](const v1::InstanceInfo* info, uint64_t offset, absl::string_view data) {
      if (info != nullptr) {
        got->instances.emplace_back();
        got->uids.push_back(info->tags().sop_instance_uid());
      }
      EXPECT_FALSE(got->instances.empty());
      EXPECT_EQ(offset, got->instances.back().size());
      got->instances.back().append(data.data(), data.size());
      return absl::OkStatus();
    };
  }

  FakeClock clock_;
  SetKeys keys_;
  StudyIndexMeta meta_;
  FakeChunks chunks_;
  std::vector<std::string> stored_;
};

TEST_F(SetRetrievalTest, SendsEveryInstanceInOrderAfterOneKeyRelease) {
  ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
  Store(core, 9);
  int single_releases = 0;
  keys_.on_get_key = [&] { ++single_releases; };
  Got got;
  v1::RetrieveStudyRequest request;
  request.set_study_uid(kStudy);
  ASSERT_TRUE(core.RetrieveStudy(request, Collect(&got), "client/viewer").ok());
  EXPECT_EQ(got.instances, stored_);
  EXPECT_EQ(keys_.set_releases, 1);
  EXPECT_EQ(single_releases, 0);
  EXPECT_EQ(keys_.released_for, "RetrieveStudy");

  // One series only.
  Got series;
  request.set_series_uid("1.2.826.0.1.3680043.2.1143.9.2");
  ASSERT_TRUE(core.RetrieveStudy(request, Collect(&series)).ok());
  EXPECT_EQ(series.instances, std::vector<std::string>{stored_.back()});
  request.set_series_uid("1.2.826.0.1.3680043.2.1143.9.3");
  EXPECT_EQ(core.RetrieveStudy(request, Collect(&series)).code(), absl::StatusCode::kNotFound);
}

// No instance is read before it is within read_ahead_instances of the one being sent, nor while
// its bytes would take the read-ahead past read_ahead_bytes.
TEST_F(SetRetrievalTest, ReadsAheadNoFurtherThanTheBounds) {
  ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
  Store(core, 12);
  std::map<std::string, int> instance_of_chunk;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < stored_.size(); ++i) {
    const std::string uid = i + 1 < stored_.size()
                                ? absl::StrCat("1.2.826.0.1.3680043.2.1143.9.1.", 100 + i)
                                : "1.2.826.0.1.3680043.2.1143.9.2.100";
    for (const auto& c : meta_.instances.at(uid).manifest().chunks())
      instance_of_chunk[c.chunk_id()] = static_cast<int>(i);
    sizes.push_back(stored_[i].size());
  }
  std::atomic<int> sent{0};  // instances whose info the sink has had
  std::atomic<int> violations{0};
  chunks_.on_read = [&](const std::string&, const std::string& id) {
    const int j = instance_of_chunk.at(id);
    // Instances before `head` have been handed to the sink; `head` is the next to be sent.
    const int head = sent.load();
    if (j > head + 2) ++violations;  // more than 2 beyond the next to be sent
    // Those from `head` to j are held at once: within the bytes bound, unless j is alone.
    uint64_t held = 0;
    for (int k = head; k <= j; ++k) held += sizes[k];
    if (j > head && held > Options().read_ahead_bytes) ++violations;
  };
  Got got;
  v1::RetrieveStudyRequest request;
  request.set_study_uid(kStudy);
  ASSERT_TRUE(
      core.RetrieveStudy(request,
                         [&](const v1::InstanceInfo* info, uint64_t o, absl::string_view d) {
                           if (info != nullptr) ++sent;
                           return Collect(&got)(info, o, d);
                         })
          .ok());
  EXPECT_EQ(got.instances, stored_);
  EXPECT_EQ(violations, 0);
}

TEST_F(SetRetrievalTest, AnInstanceDeletedMidwayEndsTheStreamWithItsPosition) {
  ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
  Store(core, 5);
  SetRetrieval retrieval(&core, &keys_, &meta_, Options());
  auto set = retrieval.List(kStudy, "");
  ASSERT_TRUE(set.ok()) << set.status();
  const std::string gone = (*set)[3].tags().sop_instance_uid();
  meta_.instances.erase(gone);  // deleted after the listing
  Got got;
  absl::Status s = retrieval.Retrieve(*set, KeyAudit{"", "RetrieveStudy"}, Collect(&got));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("instance 4 of 6"), std::string::npos) << s;
  EXPECT_EQ(s.message().find(gone), std::string::npos) << "a UID in an error: " << s;
  EXPECT_EQ(got.instances, std::vector<std::string>(stored_.begin(), stored_.begin() + 3));
}

TEST_F(SetRetrievalTest, ADestroyedKeyEndsTheStreamThere) {
  ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
  Store(core, 4);
  keys_.keys.erase(meta_.instances.at("1.2.826.0.1.3680043.2.1143.9.1.102").manifest().object_id());
  Got got;
  v1::RetrieveStudyRequest request;
  request.set_study_uid(kStudy);
  absl::Status s = core.RetrieveStudy(request, Collect(&got));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(
      s.message().find("instance 3 of 5 of the set cannot be read: its data key was destroyed"),
      std::string::npos)
      << s;
  EXPECT_EQ(got.instances.size(), 2u);
}

TEST_F(SetRetrievalTest, AKeyReleaseThatFailsSendsNothing) {
  ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
  Store(core, 3);
  keys_.release_error = absl::UnavailableError("audit write failed");
  Got got;
  v1::RetrieveStudyRequest request;
  request.set_study_uid(kStudy);
  EXPECT_EQ(core.RetrieveStudy(request, Collect(&got)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(got.instances.empty());
  request.set_study_uid("");
  EXPECT_EQ(core.RetrieveStudy(request, Collect(&got)).code(), absl::StatusCode::kInvalidArgument);
}

// Chunks travel from the fetch to the sink in the buffers they were decrypted in: a chunk whose
// every copy was altered ends the stream at its instance with DATA_LOSS, with nothing of that
// instance sent, whether its checksum catches it or only its authentication tag does.
TEST_F(SetRetrievalTest, AnAlteredChunkEndsTheStreamBeforeItsInstance) {
  for (const bool keep_crc : {false, true}) {
    SCOPED_TRACE(keep_crc ? "checksum kept, tag fails" : "checksum fails");
    chunks_.stored.clear();
    meta_.instances.clear();
    stored_.clear();
    ImageStoreCore core(&keys_, &meta_, &chunks_, Options(), &clock_);
    Store(core, 5);
    SetRetrieval retrieval(&core, &keys_, &meta_, Options());
    auto set = retrieval.List(kStudy, "");
    ASSERT_TRUE(set.ok()) << set.status();
    // The third instance (150 KiB: three chunks); its second chunk changes on every replica.
    v1::ObjectManifest* m =
        meta_.instances.at((*set)[2].tags().sop_instance_uid()).mutable_manifest();
    ASSERT_EQ(m->chunks_size(), 3);
    v1::ChunkLocation* loc = m->mutable_chunks(1);
    std::string altered;
    for (auto& [where, data] : chunks_.stored) {
      if (where.second != loc->chunk_id()) continue;
      data[40] ^= 0x01;
      altered = data;
    }
    ASSERT_FALSE(altered.empty());
    if (keep_crc) loc->set_crc32c(Crc32c(altered));  // as a forging chunk server could
    Got got;
    absl::Status s = retrieval.Retrieve(*set, KeyAudit{"", "RetrieveStudy"}, Collect(&got));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find("instance 3 of 6"), std::string::npos) << s;
    EXPECT_EQ(got.instances, std::vector<std::string>(stored_.begin(), stored_.begin() + 2));
  }
}

}  // namespace
}  // namespace medvault::frontend
