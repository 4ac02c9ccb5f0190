#include "tests/testing/dicomweb_fixture.h"

#include <fstream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {

using testing::ExternalCluster;
using testing::ReadWholeFile;

void DicomWebTest::SetUpTestSuite() {
  testing::ClusterOptions options;
  absl::StatusOr<std::string> base = testing::AddHttpsDoor(options);
  started_ = base.status();
  if (!started_.ok()) return;
  base_ = *base;
  options.frontend_flags.push_back(absl::StrCat("--http_cors_origins=", kViewerOrigin));
  cluster_ = new ExternalCluster(options);
  started_ = cluster_->Start();
  if (!started_.ok()) return;
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  for (const char* file : {"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm"}) {
    Stored s;
    s.file = file;
    s.bytes = ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file);
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub.get(), s.bytes);
    if (!put.ok()) {
      started_ = put.status();
      return;
    }
    s.put = *put;
    stored_->push_back(s);
  }
  // Pixel data for frames and rendering (kept apart: the tests above go through stored_),
  // each under a SOP Instance UID of its own (pydicom's variants of one image share theirs);
  // the pixel data is unchanged.
  int index = 0;
  for (const char* file :
       {"rtdose.dcm", "rtdose_rle.dcm", "SC_rgb_rle_2frame.dcm", "SC_rgb_jpeg_dcmtk.dcm",
        "MR_small_jpeg_ls_lossless.dcm", "JPEG-lossy.dcm"}) {
    Stored s;
    s.file = file;
    absl::StatusOr<std::string> bytes =
        testing::DicomInstanceFactory(
            ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file))
            .WithUids(absl::StrCat("1.2.826.0.1.3680043.10.1016.77.", ++index), "", "");
    if (!bytes.ok()) {
      started_ = bytes.status();
      return;
    }
    s.bytes = *bytes;
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub.get(), s.bytes);
    if (!put.ok()) {
      started_ = put.status();
      return;
    }
    s.put = *put;
    (*pixels_)[file] = s;
  }
}

void DicomWebTest::TearDownTestSuite() {
  if (cluster_ != nullptr) EXPECT_TRUE(cluster_->Stop().ok());
  delete cluster_;
  cluster_ = nullptr;
}

HttpAnswer DicomWebTest::Curl(const std::string& as, const std::string& path,
                              std::vector<std::string> extra) {
  return testing::CurlHttps(*cluster_, base_, as, path, extra);
}

std::vector<std::string> DicomWebTest::Parts(const HttpAnswer& a, const std::string& type,
                                             std::vector<std::string>* part_headers) {
  EXPECT_TRUE(absl::StartsWith(a.content_type, "multipart/related")) << a.content_type;
  EXPECT_TRUE(absl::StrContains(a.content_type, "type=\"" + type + "\"")) << a.content_type;
  const size_t at = a.content_type.find("boundary=");
  if (at == std::string::npos) return {};
  std::string boundary = a.content_type.substr(at + 9);
  boundary = boundary.substr(0, boundary.find(';'));
  std::vector<std::string> parts;
  const std::string delimiter = "--" + boundary;
  size_t pos = a.body.find(delimiter);
  while (pos != std::string::npos) {
    pos += delimiter.size();
    if (a.body.compare(pos, 2, "--") == 0) return parts;
    const size_t start = a.body.find("\r\n\r\n", pos);
    const size_t end = a.body.find("\r\n" + delimiter, start);
    if (start == std::string::npos || end == std::string::npos) break;
    if (part_headers != nullptr) part_headers->push_back(a.body.substr(pos, start - pos));
    parts.push_back(a.body.substr(start + 4, end - start - 4));
    pos = end + 2;
  }
  ADD_FAILURE() << "no closing delimiter";
  return parts;
}

std::string DicomWebTest::StowBody(const std::vector<std::string>& bytes,
                                   const std::string& boundary) {
  std::string body;
  for (const std::string& b : bytes) {
    absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: application/dicom\r\n\r\n", b,
                    "\r\n");
  }
  return absl::StrCat(body, "--", boundary, "--\r\n");
}

HttpAnswer DicomWebTest::Stow(const std::string& as, const std::string& path,
                              const std::string& body, const std::string& type) {
  const std::string file = cluster_->root() + "/stow-body";
  std::ofstream(file, std::ios::binary) << body;
  return Curl(as, path, {"-H", "Content-Type: " + type, "--data-binary", "@" + file});
}

std::vector<std::string> DicomWebTest::RetrieveUrls(const std::string& json) {
  std::vector<std::string> out;
  const std::string key = "\"00081190\":{\"vr\":\"UR\",\"Value\":[\"";
  for (size_t p = json.find(key); p != std::string::npos; p = json.find(key, p + 1)) {
    const size_t start = p + key.size();
    absl::string_view url(json.data() + start, json.find('"', start) - start);
    EXPECT_TRUE(absl::ConsumePrefix(&url, base_)) << url;
    out.emplace_back(url);
  }
  return out;
}

std::vector<std::string> DicomWebTest::UidsOf(const std::string& file) {
  testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/python3", "-c",
       "import pydicom, sys; d = pydicom.dcmread(sys.argv[1], stop_before_pixels=True); "
       "print(d.StudyInstanceUID, d.SeriesInstanceUID, d.SOPInstanceUID)",
       std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return absl::StrSplit(absl::StripAsciiWhitespace(r.out), ' ');
}

std::string DicomWebTest::InstancePath(const v1::PutInstanceResponse& p) {
  return absl::StrCat("/dicomweb/studies/", p.study_uid(), "/series/", p.series_uid(),
                      "/instances/", p.sop_instance_uid());
}

ExternalCluster* DicomWebTest::cluster_ = nullptr;
absl::Status DicomWebTest::started_;
std::string DicomWebTest::base_;
std::vector<Stored>* DicomWebTest::stored_ = new std::vector<Stored>();
std::map<std::string, Stored>* DicomWebTest::pixels_ = new std::map<std::string, Stored>();

}  // namespace medvault
