// Issue 16's WADO-RS resources inside the pixel data: frames (native and encapsulated, checked
// against pydicom), rendered and thumbnail images (decoded by Pillow). The cluster is
// tests/testing/dicomweb_fixture.h.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/dicomweb_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;

// WADO-RS frames (issue 16): each requested frame of native and encapsulated pixel data is, byte
// for byte, what pydicom extracts for it (tests/dicomweb/frames.py), under the part media type the
// Accept asked for (parameters quoted or not).
TEST_F(DicomWebTest, WadoRsFramesAreWhatPydicomExtracts) {
  struct Case {
    std::string file, list, accept, part_type;
  };
  const std::string native = "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1";
  for (const Case& c : std::vector<Case>{
           {"rtdose.dcm", "1,15,7", "multipart/related; type=\"application/octet-stream\"", native},
           {"rtdose.dcm", "2", "", native},
           {"rtdose_rle.dcm", "2,15",
            "multipart/related; type=image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5",
            "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"},
           {"SC_rgb_rle_2frame.dcm", "2,1",
            "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
            "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.5"},
           {"SC_rgb_jpeg_dcmtk.dcm", "1", "multipart/related; type=\"image/jpeg\"",
            "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"},
           {"MR_small_jpeg_ls_lossless.dcm", "1",
            "multipart/related; type=\"image/jls\"; transfer-syntax=\"1.2.840.10008.1.2.4.80\"",
            "image/jls; transfer-syntax=1.2.840.10008.1.2.4.80"},
           {"JPEG-lossy.dcm", "1",
            "multipart/related; type=\"image/jls\", multipart/related; type=\"image/jpeg\"; "
            "transfer-syntax=*; q=0.8",
            "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.51"}}) {
    const Stored& s = pixels_->at(c.file);
    std::vector<std::string> args;
    if (!c.accept.empty()) args = {"-H", "Accept: " + c.accept};
    HttpAnswer a = Curl("client", InstancePath(s.put) + "/frames/" + c.list, args);
    ASSERT_EQ(a.status, 200) << c.file << ": " << a.body;
    const std::string type = c.part_type.substr(0, c.part_type.find(';'));
    std::vector<std::string> headers;
    std::vector<std::string> parts = Parts(a, type, &headers);
    std::vector<std::string> numbers = absl::StrSplit(c.list, ',');
    ASSERT_EQ(parts.size(), numbers.size()) << c.file;
    const std::string dir = cluster_->root() + "/frames-expected";
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     std::string(MEDVAULT_DICOMWEB_SCRIPTS_DIR) + "/frames.py",
                                     std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + c.file, dir};
    argv.insert(argv.end(), numbers.begin(), numbers.end());
    ASSERT_EQ(testing::RunCommand({"/bin/mkdir", "-p", dir}).exit_code, 0);
    testing::CommandResult expected = testing::RunCommand(argv);
    ASSERT_EQ(expected.exit_code, 0) << expected.err;
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_TRUE(absl::StrContains(headers[i], "Content-Type: " + c.part_type))
          << c.file << ": " << headers[i];
      const std::string want = ReadWholeFile(dir + "/frame-" + numbers[i]);
      EXPECT_FALSE(want.empty());
      EXPECT_TRUE(parts[i] == want) << c.file << " frame " << numbers[i] << ": " << parts[i].size()
                                    << " bytes, pydicom " << want.size();
    }
  }
}

// Frames are never transcoded: a transfer syntax other than the stored one is 406; bad frame
// numbers are 400, frames beyond the object 404.
TEST_F(DicomWebTest, WadoRsFramesRefuseWhatTheyCannotServe) {
  const std::string dose = InstancePath(pixels_->at("rtdose.dcm").put);
  const std::string jpeg = InstancePath(pixels_->at("SC_rgb_jpeg_dcmtk.dcm").put);
  auto status = [](const std::string& path, const std::string& accept) {
    return Curl("client", path, {"-H", "Accept: " + accept}).status;
  };
  EXPECT_EQ(status(dose + "/frames/1", "multipart/related; type=\"image/jpeg\""), 406);
  EXPECT_EQ(status(dose + "/frames/1",
                   "multipart/related; type=\"application/octet-stream\"; "
                   "transfer-syntax=1.2.840.10008.1.2.4.50"),
            406);
  // No transfer-syntax on octet-stream means uncompressed: not without decompressing.
  EXPECT_EQ(status(jpeg + "/frames/1", "multipart/related; type=\"application/octet-stream\""),
            406);
  EXPECT_EQ(
      status(jpeg + "/frames/1",
             "multipart/related; type=\"image/jpeg\"; transfer-syntax=1.2.840.10008.1.2.4.70"),
      406);
  EXPECT_EQ(Curl("client", dose + "/frames/16").status, 404);
  EXPECT_EQ(Curl("client", dose + "/frames/0").status, 400);
  EXPECT_EQ(Curl("client", dose + "/frames/1,x").status, 400);
  EXPECT_EQ(Curl("client", dose + "/frames/1", {"-X", "DELETE"}).status, 405);
  EXPECT_EQ(Curl("", dose + "/frames/1").status, 401);
  EXPECT_EQ(Curl("client-readonly", dose + "/frames/1").status, 200);
}

// Rendered and thumbnail resources answer images Pillow decodes, of the expected size: JPEG by
// default, PNG when asked; compressed sources decoded by DCMTK; thumbnails fit 128x128.
TEST_F(DicomWebTest, WadoRsRenderedAndThumbnailsDecode) {
  struct Case {
    std::string file, resource, accept, want;
  };
  const std::string ct = InstancePath(stored_->front().put);
  for (const Case& c : std::vector<Case>{
           {"CT_small.dcm", "/rendered", "", "JPEG 128 128"},
           {"CT_small.dcm", "/rendered", "image/png", "PNG 128 128"},
           {"CT_small.dcm", "/rendered?viewport=64,64&window=40,400&quality=50", "image/jpeg",
            "JPEG 64 64"},
           {"CT_small.dcm", "/thumbnail", "image/png;q=0.5, image/jpeg;q=0.9", "JPEG 128 128"},
           {"JPEG-lossy.dcm", "/thumbnail", "image/png", "PNG 32 128"},
           {"JPEG-lossy.dcm", "/rendered", "*/*", "JPEG 256 1024"},
           {"SC_rgb_rle_2frame.dcm", "/frames/2/rendered", "image/png", "PNG 100 100"},
           {"rtdose.dcm", "/frames/3/thumbnail", "", "JPEG 10 10"}}) {
    const std::string path = c.file == "CT_small.dcm" ? ct : InstancePath(pixels_->at(c.file).put);
    std::vector<std::string> args;
    if (!c.accept.empty()) args = {"-H", "Accept: " + c.accept};
    HttpAnswer a = Curl("client", path + c.resource, args);
    ASSERT_EQ(a.status, 200) << c.file << c.resource << ": " << a.body;
    EXPECT_EQ(a.content_type, c.want[0] == 'P' ? "image/png" : "image/jpeg");
    const std::string image = cluster_->root() + "/rendered";
    {
      std::ofstream out(image, std::ios::binary | std::ios::trunc);
      out << a.body;
    }
    testing::CommandResult decoded = testing::RunCommand(
        {"/usr/bin/python3", std::string(MEDVAULT_DICOMWEB_SCRIPTS_DIR) + "/image_size.py", image});
    EXPECT_EQ(decoded.exit_code, 0) << decoded.err;
    EXPECT_EQ(decoded.out, c.want + "\n") << c.file << c.resource;
  }
  // JPEG 2000 has no decoder in Debian's DCMTK; other media types are not rendered.
  EXPECT_EQ(Curl("client", InstancePath((*stored_)[2].put) + "/rendered").status, 406);
  EXPECT_EQ(Curl("client", ct + "/rendered", {"-H", "Accept: application/dicom"}).status, 406);
  EXPECT_EQ(Curl("client", ct + "/rendered?window=40").status, 400);
  EXPECT_EQ(Curl("client", ct + "/frames/2/rendered").status, 404);
  std::ifstream in(cluster_->LogFileOf("frontend"));
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  for (const char* op : {"wado-frames", "wado-rendered", "wado-thumbnail"}) {
    EXPECT_TRUE(absl::StrContains(
        log, absl::StrCat("audit op=dicomweb-", op, " service=frontend caller=client/client")))
        << op;
  }
}

// Rendered and thumbnail of a study and a series (PS3.18): a thumbnail is one image of the
// representative instance (the middle image instance in the index's order, never a non-image one
// such as an SR); a rendered study is one image per series that has images, a rendered series
// one, as multipart/related of the chosen image type.
TEST_F(DicomWebTest, WadoRsRenderedAndThumbnailsOfSeriesAndStudy) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  const std::string study = "1.2.826.0.1.3680043.10.1016.5";
  const std::string ct_series = study + ".1", mr_series = study + ".2", sr_series = study + ".3";
  auto put = [&](const char* file, const std::string& sop, const std::string& series) {
    absl::StatusOr<std::string> b =
        testing::DicomInstanceFactory(
            ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file))
            .WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << file << ": " << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok()) << file;
  };
  for (int i = 1; i <= 3; ++i) put("CT_small.dcm", absl::StrCat(ct_series, ".", i), ct_series);
  put("reportsi.dcm", mr_series + ".0", mr_series);  // no pixel data: never representative
  put("MR_small.dcm", mr_series + ".1", mr_series);
  put("reportsi.dcm", sr_series + ".1", sr_series);
  // "FORMAT WIDTH HEIGHT" of an image Pillow decodes.
  auto decoded = [&](const std::string& bytes) {
    const std::string image = cluster_->root() + "/rendered-set";
    {
      std::ofstream out(image, std::ios::binary | std::ios::trunc);
      out << bytes;
    }
    testing::CommandResult r = testing::RunCommand(
        {"/usr/bin/python3", std::string(MEDVAULT_DICOMWEB_SCRIPTS_DIR) + "/image_size.py", image});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::string(absl::StripTrailingAsciiWhitespace(r.out));
  };
  const std::string base = "/dicomweb/studies/" + study;
  struct Single {
    std::string path, accept, want;
  };
  for (const Single& c : std::vector<Single>{
           {base + "/thumbnail", "", "JPEG 128 128"},
           {base + "/series/" + ct_series + "/thumbnail", "image/png", "PNG 128 128"},
           {base + "/series/" + mr_series + "/thumbnail", "", "JPEG 64 64"}}) {
    std::vector<std::string> args;
    if (!c.accept.empty()) args = {"-H", "Accept: " + c.accept};
    HttpAnswer a = Curl("client", c.path, args);
    ASSERT_EQ(a.status, 200) << c.path << ": " << a.body;
    EXPECT_EQ(a.content_type, c.want[0] == 'P' ? "image/png" : "image/jpeg");
    EXPECT_EQ(decoded(a.body), c.want) << c.path;
  }
  struct Multi {
    std::string path, accept, type;
    std::multiset<std::string> want;
  };
  for (const Multi& c :
       std::vector<Multi>{{base + "/rendered", "", "image/jpeg", {"JPEG 128 128", "JPEG 64 64"}},
                          {base + "/rendered?viewport=32,32",
                           "multipart/related; type=\"image/png\"",
                           "image/png",
                           {"PNG 32 32", "PNG 32 32"}},
                          {base + "/series/" + mr_series + "/rendered",
                           "image/png",
                           "image/png",
                           {"PNG 64 64"}}}) {
    std::vector<std::string> args;
    if (!c.accept.empty()) args = {"-H", "Accept: " + c.accept};
    HttpAnswer a = Curl("client", c.path, args);
    ASSERT_EQ(a.status, 200) << c.path << ": " << a.body;
    std::vector<std::string> headers;
    std::vector<std::string> parts = Parts(a, c.type, &headers);
    std::multiset<std::string> got;
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_TRUE(absl::StrContains(headers[i], "Content-Type: " + c.type)) << headers[i];
      got.insert(decoded(parts[i]));
    }
    EXPECT_EQ(got, c.want) << c.path;
  }
  // A series without images; unknown study or series; media types that are not images.
  EXPECT_EQ(Curl("client", base + "/series/" + sr_series + "/thumbnail").status, 404);
  EXPECT_EQ(Curl("client", base + "/series/" + sr_series + "/rendered").status, 404);
  EXPECT_EQ(Curl("client", "/dicomweb/studies/1.2.3.4.5.6.7/thumbnail").status, 404);
  EXPECT_EQ(Curl("client", base + "/series/1.2.3.4/rendered").status, 404);
  EXPECT_EQ(Curl("client", base + "/rendered", {"-H", "Accept: application/dicom"}).status, 406);
  EXPECT_EQ(Curl("client", base + "/thumbnail", {"-X", "POST"}).status, 405);
  EXPECT_EQ(Curl("", base + "/thumbnail").status, 401);
}

}  // namespace
}  // namespace medvault
