// Unit tests of ImageStoreCore::DeleteStudy against the in-memory fakes: deleting a study destroys
// the data key of every object it held (crypto-shredding) before the metaserver hears so, and a
// key service that fails to destroy them makes the delete fail, never a silent success.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "frontend/core/image_store_core.h"
#include "frontend/testing/core_fakes.h"

namespace medvault::frontend {
namespace {

// Four CT slices of one study (pydicom's DICOMDIR test tree) and a slice of another study.
constexpr const char* kStudySlices[] = {
    "dicomdirtests/77654033/CT2/17106", "dicomdirtests/77654033/CT2/17136",
    "dicomdirtests/77654033/CT2/17166", "dicomdirtests/77654033/CT2/17196"};
constexpr const char* kOtherStudy = "CT_small.dcm";

class DeleteStudyTest : public ::testing::Test {
 protected:
  DeleteStudyTest() : meta_(&keys_), core_(&keys_, &meta_, &chunks_, FrontendOptions(), &clock_) {}

  void SetUp() override {
    for (const char* name : kStudySlices) {
      absl::StatusOr<v1::PutInstanceResponse> put = core_.Put(ReadTestFile(name));
      ASSERT_TRUE(put.ok()) << name << ": " << put.status();
      const v1::GetInstanceMetaResponse& stored = meta_.instances.at(put->sop_instance_uid());
      study_uid_ = stored.info().tags().study_uid();
      study_objects_.insert(stored.manifest().object_id());
    }
    absl::StatusOr<v1::PutInstanceResponse> other = core_.Put(ReadTestFile(kOtherStudy));
    ASSERT_TRUE(other.ok()) << other.status();
    other_object_ = meta_.instances.at(other->sop_instance_uid()).manifest().object_id();
    ASSERT_EQ(study_objects_.size(), 4u) << "one object, and one key, per instance";
    ASSERT_NE(meta_.instances.at(other->sop_instance_uid()).info().tags().study_uid(), study_uid_);
  }

  absl::StatusOr<v1::DeleteStudyResponse> Delete() {
    v1::DeleteStudyRequest request;
    request.set_study_uid(study_uid_);
    return core_.DeleteStudy(request, "client/deleter");
  }

  FakeClock clock_;
  FakeKeys keys_;
  FakeMeta meta_;
  FakeChunks chunks_;
  ImageStoreCore core_;
  std::string study_uid_;
  std::set<std::string> study_objects_;
  std::string other_object_;
};

TEST_F(DeleteStudyTest, DestroysTheKeyOfEveryObjectThenConfirms) {
  absl::StatusOr<v1::DeleteStudyResponse> deleted = Delete();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->instances_deleted(), 4u);
  for (const std::string& id : study_objects_) {
    EXPECT_TRUE(keys_.destroyed.count(id)) << "a key of the deleted study survives";
    EXPECT_FALSE(keys_.keys.count(id));
    EXPECT_TRUE(meta_.confirmed.count(id));
  }
  EXPECT_FALSE(keys_.destroyed.count(other_object_)) << "another study's key was destroyed";
  EXPECT_TRUE(keys_.keys.count(other_object_));
}

TEST_F(DeleteStudyTest, FailedKeyDestructionIsReportedAndTheRetryFinishesIt) {
  keys_.destroy_error = absl::UnavailableError("key service unreachable");
  absl::StatusOr<v1::DeleteStudyResponse> failed = Delete();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable)
      << "a delete whose keys survive must not look done";
  EXPECT_TRUE(meta_.confirmed.empty()) << "the metaserver was told of keys that still exist";
  for (const std::string& id : study_objects_) EXPECT_TRUE(keys_.keys.count(id));

  keys_.destroy_error = absl::OkStatus();
  absl::StatusOr<v1::DeleteStudyResponse> retried = Delete();
  ASSERT_TRUE(retried.ok()) << retried.status();
  for (const std::string& id : study_objects_) {
    EXPECT_TRUE(keys_.destroyed.count(id));
    EXPECT_TRUE(meta_.confirmed.count(id));
  }
  EXPECT_EQ(Delete().status().code(), absl::StatusCode::kNotFound) << "nothing left to delete";
}

}  // namespace
}  // namespace medvault::frontend
