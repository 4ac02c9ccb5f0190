// Issue 16's DICOMweb door with the real binaries, driven by curl (a client nobody here wrote):
// what the door as a whole does, whatever the resource: it refuses what it must (404, 405, 406, no
// client certificate, a read-only client posting to STOW-RS), audits every request without a UID,
// and answers browser viewers' CORS. The cluster and helpers are tests/testing/dicomweb_fixture.h;
// the resources' own tests are beside this file, one per door, in the same binary (one cluster):
// dicomweb_retrieve_test.cc (WADO-RS/URI, the RetrieveStudy stream, QIDO-RS),
// dicomweb_stow_test.cc, dicomweb_pixels_test.cc (frames, rendered, thumbnail),
// dicomweb_metadata_test.cc (metadata, bulkdata).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

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

TEST_F(DicomWebTest, RefusesWhatItMust) {
  const std::string instance = InstancePath(stored_->front().put);
  EXPECT_EQ(Curl("client", "/dicomweb/nothing-here").status, 404);
  EXPECT_EQ(Curl("client", "/elsewhere").status, 404);
  EXPECT_EQ(Curl("client", "/dicomweb/studies/1.2.3.4.5.6.7").status, 404);
  EXPECT_EQ(Curl("client", instance, {"-X", "DELETE"}).status, 405);
  EXPECT_EQ(Curl("client", instance, {"-H", "Accept: application/json"}).status, 406);
  // No client certificate: the TLS handshake succeeds (the share page will need none), the
  // DICOMweb answer does not.
  HttpAnswer anonymous = Curl("", instance, {"-H", kMultipartDicom});
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_FALSE(absl::StrContains(anonymous.body, "DICM"));
  // The read-only client may read, not store.
  EXPECT_EQ(Curl("client-readonly", instance, {"-H", kMultipartDicom}).status, 200);
  EXPECT_EQ(Curl("client-readonly", "/dicomweb/studies",
                 {"-X", "POST", "-H", "Content-Type: multipart/related; type=\"application/dicom\"",
                  "--data-binary", "x"})
                .status,
            403);
}

// Every DICOMweb request is an audit line with the caller's certificate and address, answered or
// refused, and none carries a UID.
TEST_F(DicomWebTest, EveryRequestIsAuditedWithoutUids) {
  const v1::PutInstanceResponse& p = (*stored_)[1].put;
  ASSERT_EQ(Curl("client", "/dicomweb/studies/" + p.study_uid() + "/series").status, 200);
  ASSERT_EQ(Curl("", "/dicomweb/instances?SOPInstanceUID=" + p.sop_instance_uid()).status, 401);
  ASSERT_EQ(Curl("client-readonly", "/dicomweb/studies", {"-X", "POST"}).status, 403);
  std::ifstream in(cluster_->LogFileOf("frontend"));
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(absl::StrContains(log,
                                "audit op=dicomweb-qido-series service=frontend "
                                "caller=client/client peer=127.0.0.1:"))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "method=GET status=200"));
  EXPECT_TRUE(absl::StrContains(log,
                                "audit op=dicomweb-qido-instances service=frontend "
                                "caller=unauthenticated peer=127.0.0.1:"));
  EXPECT_TRUE(absl::StrContains(log, "method=GET status=401"));
  EXPECT_TRUE(absl::StrContains(
      log, "audit op=dicomweb-stow-rs service=frontend caller=client/client-readonly peer="));
  EXPECT_TRUE(absl::StrContains(log, "method=POST status=403"));
  EXPECT_FALSE(absl::StrContains(log, p.study_uid()));
  EXPECT_FALSE(absl::StrContains(log, p.sop_instance_uid()));
}

// CORS for browser viewers: the configured origin's preflight is answered (without a client
// certificate) and its answers carry the allow headers; another origin gets nothing CORS-ish.
TEST_F(DicomWebTest, CorsForTheConfiguredOriginOnly) {
  const std::string path = "/dicomweb/studies";
  HttpAnswer preflight =
      Curl("", path,
           {"-X", "OPTIONS", "-H", std::string("Origin: ") + kViewerOrigin, "-H",
            "Access-Control-Request-Method: GET", "-H", "Access-Control-Request-Headers: accept"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_TRUE(absl::StrContains(preflight.headers,
                                std::string("access-control-allow-origin: ") + kViewerOrigin))
      << preflight.headers;
  EXPECT_TRUE(absl::StrContains(preflight.headers, "access-control-allow-methods: GET"));
  EXPECT_TRUE(absl::StrContains(preflight.headers, "access-control-allow-headers: Accept"));
  EXPECT_TRUE(absl::StrContains(preflight.headers, "access-control-max-age: 600"));
  HttpAnswer answer = Curl("client", path, {"-H", std::string("Origin: ") + kViewerOrigin});
  EXPECT_EQ(answer.status, 200);
  EXPECT_TRUE(absl::StrContains(answer.headers,
                                std::string("access-control-allow-origin: ") + kViewerOrigin))
      << answer.headers;
  EXPECT_TRUE(absl::StrContains(answer.headers, "vary: Origin"));
  EXPECT_TRUE(absl::StrContains(answer.headers, "access-control-expose-headers: Content-Type"));
  EXPECT_TRUE(absl::StrContains(answer.headers, "access-control-allow-credentials: true"));
  HttpAnswer other = Curl("client", path, {"-H", "Origin: https://elsewhere.example"});
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(absl::StrContains(other.headers, "access-control-")) << other.headers;
  HttpAnswer other_preflight = Curl("", path,
                                    {"-X", "OPTIONS", "-H", "Origin: https://elsewhere.example",
                                     "-H", "Access-Control-Request-Method: GET"});
  EXPECT_EQ(other_preflight.status, 403);
  EXPECT_FALSE(absl::StrContains(other_preflight.headers, "access-control-"));
}

// A request whose header block passes the frontend's limit (--http_max_header_bytes, 16 KiB by
// default) is answered 431 before any handler runs, whether one field or many are too large; the
// door then still answers normal requests.
TEST_F(DicomWebTest, OversizedHeadersAre431) {
  const std::string instance = InstancePath(stored_->front().put);
  HttpAnswer one_field = Curl(
      "client", instance, {"-H", kMultipartDicom, "-H", "X-Padding: " + std::string(20000, 'a')});
  EXPECT_EQ(one_field.status, 431);
  EXPECT_FALSE(absl::StrContains(one_field.body, "DICM"));
  std::vector<std::string> many = {"-H", kMultipartDicom};
  for (int i = 0; i < 40; ++i) {
    many.insert(many.end(), {"-H", absl::StrCat("X-Padding-", i, ": ", std::string(500, 'b'))});
  }
  EXPECT_EQ(Curl("client", instance, many).status, 431);
  EXPECT_EQ(
      Curl("client", "/dicomweb/studies?limit=1", {"-H", "Cookie: " + std::string(17000, 'c')})
          .status,
      431);
  EXPECT_EQ(Curl("client", instance, {"-H", kMultipartDicom}).status, 200);
}

}  // namespace
}  // namespace medvault
