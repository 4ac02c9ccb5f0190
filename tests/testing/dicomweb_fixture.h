// The one cluster the DICOMweb door's tests share (tests/dicomweb_*_test.cc, compiled into the
// one dicomweb_test binary so that the cluster starts once): real binaries with the HTTPS door
// on, pydicom's files stored through gRPC, and curl (a client nobody here wrote) to talk to it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/https_door.h"

namespace medvault {

inline constexpr char kViewerOrigin[] = "https://viewer.example";
inline constexpr char kMultipartDicom[] =
    "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*";

struct Stored {
  std::string file;
  std::string bytes;
  v1::PutInstanceResponse put;
};

class DicomWebTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override { ASSERT_TRUE(started_.ok()) << started_; }

  // curl as certificate `as` ("" for none) with extra arguments; the answer's status, content
  // type and body.
  static HttpAnswer Curl(const std::string& as, const std::string& path,
                         std::vector<std::string> extra = {});

  // The parts of a multipart/related body (RFC 2046), after checking its type; each part's
  // header block goes to `part_headers` when given.
  static std::vector<std::string> Parts(const HttpAnswer& a,
                                        const std::string& type = "application/dicom",
                                        std::vector<std::string>* part_headers = nullptr);

  // A multipart/related body of the files' bytes, one application/dicom part each.
  static std::string StowBody(const std::vector<std::string>& bytes, const std::string& boundary);

  // Posts `body` to STOW-RS as `as` with the Content-Type `type`.
  static HttpAnswer Stow(const std::string& as, const std::string& path, const std::string& body,
                         const std::string& type);

  // The RetrieveURLs (0008,1190) of a STOW-RS answer, as paths under base_.
  static std::vector<std::string> RetrieveUrls(const std::string& json);

  // pydicom's Study, Series and SOP Instance UIDs of a test file.
  static std::vector<std::string> UidsOf(const std::string& file);

  static std::string InstancePath(const v1::PutInstanceResponse& p);

  static testing::ExternalCluster* cluster_;
  static absl::Status started_;
  static std::string base_;
  static std::vector<Stored>* stored_;
  static std::map<std::string, Stored>* pixels_;  // by file name
};

}  // namespace medvault
