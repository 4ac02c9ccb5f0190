// WADO-RS /metadata and /bulkdata against a real ImageStoreCore over in-memory fakes: metadata
// comes from the header the put kept (no chunk read), an instance without one (stored before
// headers were kept) is read whole and answers the same, and bulk data is the element's bytes.
#include "frontend/web/wado_metadata.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "frontend/core/dicom_header.h"
#include "frontend/testing/core_fakes.h"

namespace medvault::frontend::web {
namespace {

// Keeps the answer.
class Answer : public HttpResponder {
 public:
  absl::Status Begin(int s, const HttpHeaders& h) override {
    status = s;
    for (const auto& [k, v] : h) {
      if (k == "Content-Type") content_type = v;
    }
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view data) override {
    body.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status End() override { return absl::OkStatus(); }
  bool begun() const override { return status != 0; }
  int status = 0;
  std::string content_type;
  std::string body;
};

class WadoMetadataTest : public ::testing::Test {
 protected:
  WadoMetadataTest() : meta_(&keys_), core_(&keys_, &meta_, &chunks_, FrontendOptions(), &clock_) {
    request_.method = "GET";
    request_.headers["host"] = "pacs.example:7605";
  }
  Answer Metadata(const std::string& study, const std::string& series = "",
                  const std::string& sop = "") {
    Answer a;
    absl::Status s = AnswerMetadata(&core_, request_, a, "client/test", study, series, sop);
    EXPECT_TRUE(s.ok()) << s;
    return a;
  }
  FakeClock clock_;
  FakeKeys keys_;
  FakeMeta meta_;
  FakeChunks chunks_;
  ImageStoreCore core_;
  HttpRequest request_;
  std::string ct_ = ReadTestFile("CT_small.dcm");
};

TEST_F(WadoMetadataTest, MetadataComesFromTheKeptHeaderWithoutReadingTheObject) {
  absl::StatusOr<v1::PutInstanceResponse> put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(meta_.headers.count(put->sop_instance_uid()), 1u);
  const int reads = chunks_.reads;
  Answer a = Metadata(put->study_uid());
  EXPECT_EQ(chunks_.reads, reads);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "application/dicom+json");
  absl::StatusOr<std::string> json = HeaderToDicomJson(
      meta_.headers[put->sop_instance_uid()],
      absl::StrCat("https://pacs.example:7605/dicomweb/studies/", put->study_uid(), "/series/",
                   put->series_uid(), "/instances/", put->sop_instance_uid(), "/bulkdata"));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(a.body, absl::StrCat("[", *json, "]"));
  EXPECT_TRUE(absl::StrContains(a.body, "/bulkdata/7FE00010\""));
  EXPECT_EQ(Metadata(put->study_uid(), put->series_uid(), put->sop_instance_uid()).body, a.body);
}

TEST_F(WadoMetadataTest, InstanceWithoutAHeaderIsReadWholeAndAnswersTheSame) {
  absl::StatusOr<v1::PutInstanceResponse> put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();
  const std::string from_header = Metadata(put->study_uid()).body;
  meta_.headers.clear();  // as if stored before headers were kept
  const int reads = chunks_.reads;
  const std::string from_object = Metadata(put->study_uid()).body;
  EXPECT_GT(chunks_.reads, reads);
  EXPECT_EQ(from_object, from_header);
}

TEST_F(WadoMetadataTest, BulkdataIsTheValueAndOnlyBulkValuesResolve) {
  absl::StatusOr<v1::PutInstanceResponse> put = core_.Put(ct_);
  ASSERT_TRUE(put.ok()) << put.status();
  Answer a;
  ASSERT_TRUE(AnswerBulkdata(&core_, request_, a, "", put->study_uid(), put->series_uid(),
                             put->sop_instance_uid(), "7FE00010")
                  .ok());
  EXPECT_EQ(a.status, 200);
  ASSERT_TRUE(absl::StartsWith(a.content_type,
                               "multipart/related; type=\"application/octet-stream\"; boundary="));
  const std::string boundary = a.content_type.substr(a.content_type.find("boundary=") + 9);
  absl::StatusOr<std::string> pixels = BulkValue(ct_, "7FE00010");
  ASSERT_TRUE(pixels.ok());
  EXPECT_EQ(a.body,
            absl::StrCat("--", boundary, "\r\nContent-Type: application/octet-stream\r\n\r\n",
                         *pixels, "\r\n--", boundary, "--\r\n"));
  Answer name;
  EXPECT_TRUE(
      absl::IsNotFound(AnswerBulkdata(&core_, request_, name, "", put->study_uid(),
                                      put->series_uid(), put->sop_instance_uid(), "00100010")));
  Answer elsewhere;
  EXPECT_TRUE(absl::IsNotFound(AnswerBulkdata(&core_, request_, elsewhere, "", put->study_uid(),
                                              "1.2.3", put->sop_instance_uid(), "7FE00010")));
  EXPECT_FALSE(name.begun() || elsewhere.begun());
}

}  // namespace
}  // namespace medvault::frontend::web
