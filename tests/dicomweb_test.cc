// Issue 16's DICOMweb door with the real binaries, driven by curl (a client nobody here wrote):
// pydicom's files stored through gRPC come back byte-exact through WADO-RS (instance, series,
// study: multipart/related) and WADO-URI; QIDO-RS finds them from the index; STOW-RS stores them
// byte-exact from curl and from dicomweb-client, a cut body leaving nothing of its cut part; and
// the door refuses what it must (404, 405, 406, 415, no client certificate, a read-only client
// posting to STOW-RS).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;

constexpr char kViewerOrigin[] = "https://viewer.example";
constexpr char kMultipartDicom[] =
    "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*";

struct Stored {
  std::string file;
  std::string bytes;
  v1::PutInstanceResponse put;
};

struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string headers;  // the header block as received, names in lower case
};

class DicomWebTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::vector<int>> port = testing::PickFreePorts(1);
    started_ = port.status();
    if (!started_.ok()) return;
    base_ = absl::StrCat("https://127.0.0.1:", (*port)[0]);
    testing::ClusterOptions options;
    options.frontend_flags = {absl::StrCat("--http_port=", (*port)[0]),
                              absl::StrCat("--http_cors_origins=", kViewerOrigin)};
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
  static void TearDownTestSuite() {
    if (cluster_ != nullptr) EXPECT_TRUE(cluster_->Stop().ok());
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_.ok()) << started_; }

  // curl as certificate `as` ("" for none) with extra arguments; the answer's status, content
  // type and body.
  static HttpAnswer Curl(const std::string& as, const std::string& path,
                         std::vector<std::string> extra = {}) {
    const std::string body = cluster_->root() + "/curl-body";
    const std::string headers = cluster_->root() + "/curl-headers";
    std::remove(body.c_str());
    std::vector<std::string> argv = {"/usr/bin/curl",
                                     "-sS",
                                     "--cacert",
                                     testing::DevTlsFiles(cluster_->tls_dir(), "client").ca_file,
                                     "-o",
                                     body,
                                     "-D",
                                     headers,
                                     "-w",
                                     "%{http_code}"};
    if (!as.empty()) {
      const TlsFiles tls = testing::DevTlsFiles(cluster_->tls_dir(), as);
      argv.insert(argv.end(), {"--cert", tls.cert_file, "--key", tls.key_file});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(base_ + path);
    testing::CommandResult r = testing::RunCommand(argv);
    HttpAnswer a;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    a.status = std::atoi(r.out.c_str());
    std::ifstream in(body, std::ios::binary);
    a.body.assign(std::istreambuf_iterator<char>(in), {});
    std::ifstream h(headers);
    for (std::string line; std::getline(h, line);) {
      absl::string_view v = absl::StripTrailingAsciiWhitespace(line);
      const size_t colon = v.find(':');
      absl::StrAppend(&a.headers, absl::AsciiStrToLower(v.substr(0, colon)),
                      colon == absl::string_view::npos ? "" : v.substr(colon), "\n");
      if (absl::StartsWithIgnoreCase(v, "content-type:")) {
        a.content_type = std::string(absl::StripAsciiWhitespace(v.substr(13)));
      }
    }
    return a;
  }

  // The parts of a multipart/related body (RFC 2046), after checking its type; each part's
  // header block goes to `part_headers` when given.
  static std::vector<std::string> Parts(const HttpAnswer& a,
                                        const std::string& type = "application/dicom",
                                        std::vector<std::string>* part_headers = nullptr) {
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

  // A multipart/related body of the files' bytes, one application/dicom part each.
  static std::string StowBody(const std::vector<std::string>& bytes, const std::string& boundary) {
    std::string body;
    for (const std::string& b : bytes) {
      absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: application/dicom\r\n\r\n", b,
                      "\r\n");
    }
    return absl::StrCat(body, "--", boundary, "--\r\n");
  }

  // Posts `body` to STOW-RS as `as` with the Content-Type `type`.
  static HttpAnswer Stow(const std::string& as, const std::string& path, const std::string& body,
                         const std::string& type) {
    const std::string file = cluster_->root() + "/stow-body";
    std::ofstream(file, std::ios::binary) << body;
    return Curl(as, path, {"-H", "Content-Type: " + type, "--data-binary", "@" + file});
  }

  // The RetrieveURLs (0008,1190) of a STOW-RS answer, as paths under base_.
  static std::vector<std::string> RetrieveUrls(const std::string& json) {
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

  // pydicom's Study, Series and SOP Instance UIDs of a test file.
  static std::vector<std::string> UidsOf(const std::string& file) {
    testing::CommandResult r = testing::RunCommand(
        {"/usr/bin/python3", "-c",
         "import pydicom, sys; d = pydicom.dcmread(sys.argv[1], stop_before_pixels=True); "
         "print(d.StudyInstanceUID, d.SeriesInstanceUID, d.SOPInstanceUID)",
         std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return absl::StrSplit(absl::StripAsciiWhitespace(r.out), ' ');
  }

  static std::string InstancePath(const v1::PutInstanceResponse& p) {
    return absl::StrCat("/dicomweb/studies/", p.study_uid(), "/series/", p.series_uid(),
                        "/instances/", p.sop_instance_uid());
  }

  static ExternalCluster* cluster_;
  static absl::Status started_;
  static std::string base_;
  static std::vector<Stored>* stored_;
  static std::map<std::string, Stored>* pixels_;  // by file name
};

ExternalCluster* DicomWebTest::cluster_ = nullptr;
absl::Status DicomWebTest::started_;
std::string DicomWebTest::base_;
std::vector<Stored>* DicomWebTest::stored_ = new std::vector<Stored>();
std::map<std::string, Stored>* DicomWebTest::pixels_ = new std::map<std::string, Stored>();

TEST_F(DicomWebTest, WadoRsInstanceIsTheStoredBytes) {
  for (const Stored& s : *stored_) {
    HttpAnswer a = Curl("client", InstancePath(s.put), {"-H", kMultipartDicom});
    ASSERT_EQ(a.status, 200) << s.file << ": " << a.body;
    std::vector<std::string> parts = Parts(a);
    ASSERT_EQ(parts.size(), 1u) << s.file;
    EXPECT_TRUE(parts[0] == s.bytes)
        << s.file << ": " << parts[0].size() << " bytes, stored " << s.bytes.size();
  }
}

TEST_F(DicomWebTest, WadoRsSeriesAndStudyHoldEveryInstance) {
  // Three instances of one study, two of them in one series, made from CT_small.
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.1";
  std::map<std::string, std::string> bytes_of;  // SOP Instance UID -> bytes
  for (const auto& [sop, series] : std::vector<std::pair<std::string, std::string>>{
           {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1"},
           {"1.2.826.0.1.3680043.10.1016.1.1.2", "1.2.826.0.1.3680043.10.1016.1.1"},
           {"1.2.826.0.1.3680043.10.1016.1.2.1", "1.2.826.0.1.3680043.10.1016.1.2"}}) {
    absl::StatusOr<std::string> b = factory.WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
    bytes_of[sop] = *b;
  }
  auto expect_parts = [&](const std::string& path, std::vector<std::string> sops) {
    HttpAnswer a = Curl("client", path, {"-H", kMultipartDicom});
    ASSERT_EQ(a.status, 200) << path << ": " << a.body;
    std::vector<std::string> parts = Parts(a);
    ASSERT_EQ(parts.size(), sops.size()) << path;
    std::multiset<std::string> got(parts.begin(), parts.end()), want;
    for (const std::string& sop : sops) want.insert(bytes_of[sop]);
    EXPECT_TRUE(got == want) << path;
  };
  expect_parts("/dicomweb/studies/" + study,
               {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1.2",
                "1.2.826.0.1.3680043.10.1016.1.2.1"});
  expect_parts("/dicomweb/studies/" + study + "/series/1.2.826.0.1.3680043.10.1016.1.1",
               {"1.2.826.0.1.3680043.10.1016.1.1.1", "1.2.826.0.1.3680043.10.1016.1.1.2"});
  // An instance addressed under the wrong series is not found.
  EXPECT_EQ(Curl("client", "/dicomweb/studies/" + study +
                               "/series/1.2.826.0.1.3680043.10.1016.1.2/instances/"
                               "1.2.826.0.1.3680043.10.1016.1.1.1")
                .status,
            404);
}

TEST_F(DicomWebTest, WadoUriIsTheStoredBytes) {
  for (const Stored& s : *stored_) {
    HttpAnswer a =
        Curl("client", absl::StrCat("/dicomweb/wado?requestType=WADO&studyUID=", s.put.study_uid(),
                                    "&seriesUID=", s.put.series_uid(), "&objectUID=",
                                    s.put.sop_instance_uid(), "&contentType=application%2Fdicom"));
    ASSERT_EQ(a.status, 200) << s.file;
    EXPECT_EQ(a.content_type, "application/dicom");
    EXPECT_TRUE(a.body == s.bytes) << s.file;
  }
  EXPECT_EQ(Curl("client", "/dicomweb/wado?requestType=WADO&studyUID=1&seriesUID=2").status, 400);
}

TEST_F(DicomWebTest, QidoRsFindsStudiesFromTheIndex) {
  const Stored& ct = stored_->front();
  HttpAnswer a = Curl("client", "/dicomweb/studies?PatientID=" + ct.put.patient_id());
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "application/dicom+json");
  EXPECT_TRUE(absl::StrContains(a.body, absl::StrCat("\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"",
                                                     ct.put.study_uid(), "\"]}")))
      << a.body;
  HttpAnswer all = Curl("client", "/dicomweb/studies?limit=1000");
  HttpAnswer one = Curl("client", "/dicomweb/studies?limit=1&offset=1");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(one.status, 200);
  // Each study is one object carrying the StudyInstanceUID tag once.
  auto count = [](const std::string& json) {
    size_t n = 0;
    for (size_t p = json.find("\"0020000D\""); p != std::string::npos;
         p = json.find("\"0020000D\"", p + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_GE(count(all.body), 3u);
  EXPECT_EQ(count(one.body), 1u);
  // offset=1 is the second study of the full list.
  auto uids = [](const std::string& json) {
    std::vector<std::string> out;
    const std::string key = "\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"";
    for (size_t p = json.find(key); p != std::string::npos; p = json.find(key, p + 1)) {
      const size_t start = p + key.size();
      out.push_back(json.substr(start, json.find('"', start) - start));
    }
    return out;
  };
  ASSERT_GE(uids(all.body).size(), 2u);
  EXPECT_EQ(uids(one.body), std::vector<std::string>{uids(all.body)[1]});
}

// QIDO-RS below the study level (issue 16): each level's resource answers DICOM JSON from the
// index; bad parameters get 400, other methods 405.
TEST_F(DicomWebTest, QidoRsSeriesAndInstancesFromTheIndex) {
  const Stored& mr = (*stored_)[1];
  const v1::PutInstanceResponse& p = mr.put;
  auto has = [](const HttpAnswer& a, const std::string& tag, const std::string& uid) {
    return absl::StrContains(
        a.body, absl::StrCat("\"", tag, "\":{\"vr\":\"UI\",\"Value\":[\"", uid, "\"]}"));
  };
  HttpAnswer series = Curl("client", "/dicomweb/studies/" + p.study_uid() + "/series");
  ASSERT_EQ(series.status, 200) << series.body;
  EXPECT_EQ(series.content_type, "application/dicom+json");
  EXPECT_TRUE(has(series, "0020000E", p.series_uid())) << series.body;
  EXPECT_TRUE(absl::StrContains(series.body, "\"00080060\":{\"vr\":\"CS\",\"Value\":[\"MR\"]}"));
  HttpAnswer instances = Curl(
      "client", "/dicomweb/studies/" + p.study_uid() + "/series/" + p.series_uid() + "/instances");
  ASSERT_EQ(instances.status, 200) << instances.body;
  EXPECT_TRUE(has(instances, "00080018", p.sop_instance_uid())) << instances.body;
  HttpAnswer by_uid = Curl("client", "/dicomweb/instances?SOPInstanceUID=" + p.sop_instance_uid());
  ASSERT_EQ(by_uid.status, 200);
  EXPECT_TRUE(has(by_uid, "0020000D", p.study_uid())) << by_uid.body;
  HttpAnswer of_study = Curl("client", "/dicomweb/studies/" + p.study_uid() + "/instances");
  ASSERT_EQ(of_study.status, 200);
  EXPECT_TRUE(has(of_study, "00080018", p.sop_instance_uid()));
  HttpAnswer by_modality =
      Curl("client", "/dicomweb/series?Modality=MR&PatientID=" + p.patient_id());
  ASSERT_EQ(by_modality.status, 200);
  EXPECT_TRUE(has(by_modality, "0020000E", p.series_uid())) << by_modality.body;
  EXPECT_FALSE(has(by_modality, "0020000E", stored_->front().put.series_uid()));
  EXPECT_EQ(Curl("client", "/dicomweb/series?Modality=US&PatientID=" + p.patient_id()).body, "[]");
  EXPECT_EQ(Curl("client", "/dicomweb/instances?limit=ten").status, 400);
  EXPECT_EQ(Curl("client", "/dicomweb/series?NoSuchKeyword=1").status, 400);
  EXPECT_EQ(Curl("client", "/dicomweb/series", {"-X", "DELETE"}).status, 405);
  EXPECT_EQ(Curl("client", "/dicomweb/series", {"-H", "Accept: application/dicom"}).status, 406);
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

// dicomweb-client (npm), the library browser viewers use, retrieves (instance, series, study) the
// stored bytes and finds the study, its series and instances with every attribute pydicom reads
// (tests/dicomweb/client.mjs).
TEST_F(DicomWebTest, DicomwebClientRetrievesAndSearches) {
  for (const Stored& s : *stored_) {
    testing::CommandResult r = testing::RunCommand(
        {"/usr/bin/node", std::string(MEDVAULT_DICOMWEB_NODE_DIR) + "/client.mjs", base_,
         cluster_->tls_dir(), "client", s.put.study_uid(), s.put.series_uid(),
         s.put.sop_instance_uid(), std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + s.file,
         s.put.patient_id()});
    EXPECT_EQ(r.exit_code, 0) << s.file << ": " << r.out << r.err;
    EXPECT_EQ(r.out, "ok\n") << s.file;
  }
}

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

// STOW-RS (issue 16) with curl: pydicom's files stored in one request come back byte-exact from
// WADO-RS and GetInstance, whether the boundary and the type parameter are quoted or not.
TEST_F(DicomWebTest, StowRsStoresPydicomFilesByteExact) {
  const std::vector<std::vector<std::string>> requests = {
      {"rtplan.dcm", "waveform_ecg.dcm"}, {"ExplVR_BigEnd.dcm", "rtdose.dcm", "reportsi.dcm"}};
  const std::vector<std::string> types = {
      "multipart/related; type=\"application/dicom\"; boundary=\"quoted b0undary:=?\"",
      "multipart/related; type=application/dicom; boundary=plain-b0undary"};
  const std::vector<std::string> boundaries = {"quoted b0undary:=?", "plain-b0undary"};
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  for (size_t i = 0; i < requests.size(); ++i) {
    std::multiset<std::string> sent;
    std::vector<std::string> bytes;
    for (const std::string& f : requests[i]) {
      bytes.push_back(ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + f));
      sent.insert(bytes.back());
    }
    HttpAnswer a = Stow("client", "/dicomweb/studies", StowBody(bytes, boundaries[i]), types[i]);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.content_type, "application/dicom+json");
    EXPECT_FALSE(absl::StrContains(a.body, "00081198")) << a.body;
    std::vector<std::string> urls = RetrieveUrls(a.body);
    ASSERT_EQ(urls.size(), bytes.size()) << a.body;
    std::multiset<std::string> back, by_grpc;
    for (const std::string& url : urls) {
      HttpAnswer got = Curl("client", url, {"-H", kMultipartDicom});
      ASSERT_EQ(got.status, 200) << url;
      std::vector<std::string> parts = Parts(got);
      ASSERT_EQ(parts.size(), 1u);
      back.insert(parts[0]);
      absl::StatusOr<std::string> g =
          testing::GetInstance(stub.get(), url.substr(url.rfind('/') + 1));
      ASSERT_TRUE(g.ok()) << g.status();
      by_grpc.insert(*g);
    }
    EXPECT_TRUE(back == sent) << i;
    EXPECT_TRUE(by_grpc == sent) << i;
  }
}

// dicomweb-client's storeInstances, then its retrieveInstance of what it stored
// (tests/dicomweb/client.mjs store).
TEST_F(DicomWebTest, DicomwebClientStoresInstances) {
  const std::string file = "SC_rgb_small_odd.dcm";
  std::vector<std::string> uids = UidsOf(file);
  ASSERT_EQ(uids.size(), 3u);
  testing::CommandResult r =
      testing::RunCommand({"/usr/bin/node", std::string(MEDVAULT_DICOMWEB_NODE_DIR) + "/client.mjs",
                           "store", base_, cluster_->tls_dir(), "client", uids[0], uids[1], uids[2],
                           std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n");
}

// A body that ends inside its second part, whether it says so (a complete request whose body lacks
// the rest) or the client dies mid-upload: the first part is stored, nothing of the second is
// visible anywhere (QIDO-RS from FindInstances, GetStudy).
TEST_F(DicomWebTest, StowRsCutBodyLeavesNothingOfTheCutPart) {
  const std::string type = "multipart/related; type=\"application/dicom\"; boundary=cut";
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"693_J2KI.dcm", "test-SR.dcm"}, {"liver_1frame.dcm", "GDCMJ2K_TextGBR.dcm"}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [whole, cut] = cases[i];
    const std::string first = ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + whole);
    const std::string second = ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + cut);
    const std::string body = StowBody({first, second}, "cut");
    const size_t cut_at = body.size() - 8 - second.size() / 2;
    if (i == 0) {
      HttpAnswer a = Stow("client", "/dicomweb/studies", body.substr(0, cut_at), type);
      EXPECT_EQ(a.status, 400) << a.body;
      EXPECT_EQ(RetrieveUrls(a.body).size(), 1u) << a.body;
    } else {
      const std::string file = cluster_->root() + "/stow-cut-body";
      std::ofstream(file, std::ios::binary) << body;
      const TlsFiles tls = testing::DevTlsFiles(cluster_->tls_dir(), "client");
      testing::CommandResult r = testing::RunCommand(
          {"/usr/bin/python3", std::string(MEDVAULT_SOURCE_DIR) + "/tests/dicomweb/cut_body.py",
           base_.substr(base_.rfind(':') + 1), tls.ca_file, tls.cert_file, tls.key_file,
           "/dicomweb/studies", type, file, std::to_string(cut_at)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    std::vector<std::string> kept = UidsOf(whole), gone = UidsOf(cut);
    ASSERT_EQ(kept.size(), 3u);
    ASSERT_EQ(gone.size(), 3u);
    absl::StatusOr<std::string> stored = testing::GetInstance(stub.get(), kept[2]);
    ASSERT_TRUE(stored.ok()) << whole << ": " << stored.status();
    EXPECT_TRUE(*stored == first) << whole;
    EXPECT_EQ(Curl("client", "/dicomweb/instances?SOPInstanceUID=" + gone[2]).body, "[]") << cut;
    EXPECT_EQ(Curl("client", "/dicomweb/studies?StudyInstanceUID=" + gone[0]).body, "[]") << cut;
    grpc::ClientContext context;
    v1::GetStudyRequest request;
    request.set_study_uid(gone[0]);
    v1::GetStudyResponse response;
    EXPECT_EQ(stub->GetStudy(&context, request, &response).error_code(), grpc::NOT_FOUND) << cut;
    EXPECT_EQ(testing::GetInstance(stub.get(), gone[2]).status().code(),
              absl::StatusCode::kNotFound)
        << cut;
  }
}

// What STOW-RS refuses: a wrong Content-Type (415), a read-only client (403), an instance of
// another study than the URL's (409 with FailedSOPSequence, reason A900).
TEST_F(DicomWebTest, StowRsRefusesWhatItMust) {
  const Stored& ct = stored_->front();
  const std::string body = StowBody({ct.bytes}, "b");
  const std::string type = "multipart/related; type=\"application/dicom\"; boundary=b";
  EXPECT_EQ(Stow("client", "/dicomweb/studies", body, "application/dicom").status, 415);
  EXPECT_EQ(Stow("client", "/dicomweb/studies", body,
                 "multipart/related; type=\"application/dicom+json\"; boundary=b")
                .status,
            415);
  EXPECT_EQ(Stow("client-readonly", "/dicomweb/studies", body, type).status, 403);
  HttpAnswer other = Stow("client", "/dicomweb/studies/1.2.826.0.1.3680043.10.1016.99", body, type);
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_TRUE(absl::StrContains(other.body, "\"00081198\":{\"vr\":\"SQ\""));
  EXPECT_TRUE(absl::StrContains(other.body, "\"00081197\":{\"vr\":\"US\",\"Value\":[43264]}"))
      << other.body;
  // Into its own study, the stored instance again: a success (identical bytes).
  HttpAnswer same = Stow("client", "/dicomweb/studies/" + ct.put.study_uid(), body, type);
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(RetrieveUrls(same.body).size(), 2u) << same.body;  // the study's and the instance's
}

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

// The ImageStore.RetrieveStudy stream as (SOP Instance UID, bytes) in the order received, and
// the call's status.
struct Retrieved {
  std::vector<std::pair<std::string, std::string>> instances;
  grpc::Status status;
};
Retrieved RetrieveStudy(v1::ImageStore::Stub* stub, const std::string& study,
                        const std::string& series = "") {
  Retrieved r;
  grpc::ClientContext ctx;
  v1::RetrieveStudyRequest req;
  req.set_study_uid(study);
  req.set_series_uid(series);
  auto reader = stub->RetrieveStudy(&ctx, req);
  v1::RetrieveStudyResponse msg;
  while (reader->Read(&msg)) {
    if (msg.has_info()) r.instances.emplace_back(msg.info().tags().sop_instance_uid(), "");
    if (r.instances.empty()) {
      ADD_FAILURE() << "data before any instance info";
      continue;
    }
    EXPECT_EQ(msg.offset(), r.instances.back().second.size());
    r.instances.back().second += msg.data();
  }
  r.status = reader->Finish();
  return r;
}

// The object id of a stored instance, from the metaserver (asked as the frontend).
std::string ObjectIdOf(ExternalCluster* cluster, const std::string& sop) {
  auto meta = v1::MetaService::NewStub(cluster->Channel(cluster->metaserver(), kMetaServerPeer));
  grpc::ClientContext ctx;
  v1::GetInstanceMetaRequest req;
  req.set_sop_instance_uid(sop);
  v1::GetInstanceMetaResponse m;
  EXPECT_TRUE(meta->GetInstance(&ctx, req, &m).ok()) << sop;
  return m.manifest().object_id();
}

// Issues 16 and 20: a study is one retrieval. Through the gRPC stream and through WADO-RS, every
// instance comes back byte-exact, and the key service records ONE release for the set (naming
// every object, the caller and the purpose, never a UID) instead of one per instance.
TEST_F(DicomWebTest, RetrieveStudyIsByteExactUnderOneKeyRelease) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.2";
  std::map<std::string, std::string> bytes_of;
  for (int i = 1; i <= 5; ++i) {
    const std::string series = absl::StrCat(study, ".", i <= 3 ? 1 : 2);
    const std::string sop = absl::StrCat(series, ".", i);
    absl::StatusOr<std::string> b = factory.WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
    bytes_of[sop] = *b;
  }
  Retrieved got = RetrieveStudy(stub.get(), study);
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_EQ(got.instances.size(), bytes_of.size());
  for (const auto& [sop, bytes] : got.instances) {
    EXPECT_TRUE(bytes == bytes_of[sop]) << sop << ": " << bytes.size() << " bytes";
  }
  Retrieved one_series = RetrieveStudy(stub.get(), study, study + ".2");
  ASSERT_TRUE(one_series.status.ok()) << one_series.status.error_message();
  EXPECT_EQ(one_series.instances.size(), 2u);

  HttpAnswer a = Curl("client", "/dicomweb/studies/" + study, {"-H", kMultipartDicom});
  ASSERT_EQ(a.status, 200) << a.body;
  std::vector<std::string> parts = Parts(a);
  ASSERT_EQ(parts.size(), got.instances.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_TRUE(parts[i] == got.instances[i].second) << "part " << i;
  }

  // The audit: each object is named by one release record per retrieval that read it (the
  // study by gRPC, the series by gRPC for the two in it, the study by WADO-RS), each the set's
  // one record naming all its objects: none per instance.
  auto keys = v1::KeyService::NewStub(cluster_->Channel(cluster_->keyservice(), kKeyServicePeer));
  for (const auto& [sop, bytes] : bytes_of) {
    grpc::ClientContext actx;
    v1::QueryAuditRequest q;
    q.set_object_id(ObjectIdOf(cluster_, sop));
    v1::QueryAuditResponse page;
    ASSERT_TRUE(keys->QueryAudit(&actx, q, &page).ok());
    std::vector<int> release_sizes;
    for (const v1::AuditRecord& r : page.records()) {
      if (r.op() != "release") continue;
      EXPECT_EQ(r.result(), "OK");
      EXPECT_EQ(r.purpose(), "RetrieveStudy");
      EXPECT_EQ(r.on_behalf_of(), "client/client");
      EXPECT_EQ(r.caller(), "frontend/frontend");
      std::string all;
      EXPECT_TRUE(r.SerializeToString(&all));
      EXPECT_FALSE(absl::StrContains(all, study)) << "a UID in an audit record";
      release_sizes.push_back(r.object_ids_size());
    }
    // The study (5 objects) by gRPC and by WADO-RS; the series (2) for the instances in it.
    std::vector<int> want = {5, 5};
    if (sop.find(study + ".2.") == 0) want = {5, 2, 5};
    EXPECT_EQ(release_sizes, want) << sop;
  }
}

TEST_F(DicomWebTest, RetrieveStudyNeedsTheReadScope) {
  auto writer = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client-writer"), kFrontendPeer));
  Retrieved got = RetrieveStudy(writer.get(), stored_->front().put.study_uid());
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(got.instances.empty());
  auto reader = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client-readonly"), kFrontendPeer));
  got = RetrieveStudy(reader.get(), stored_->front().put.study_uid());
  EXPECT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.instances.size(), 1u);
}

// A study one of whose keys was destroyed (the index still lists it): the instances before it
// arrive, then the stream ends with NOT_FOUND naming its position, never its UID
// (docs/dicomweb.md, image_store.proto).
TEST_F(DicomWebTest, RetrieveStudyWithADestroyedKeyEndsWithNotFound) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.3";
  const std::string series = study + ".1";
  std::vector<std::string> sops;
  for (int i = 1; i <= 3; ++i) {
    sops.push_back(absl::StrCat(series, ".", i));
    absl::StatusOr<std::string> b = factory.WithUids(sops.back(), study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
  }
  Retrieved before = RetrieveStudy(stub.get(), study);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  ASSERT_EQ(before.instances.size(), 3u);
  const std::string victim = before.instances[1].first;  // the second in the index's order
  auto keys = v1::KeyService::NewStub(cluster_->Channel(cluster_->keyservice(), kKeyServicePeer));
  {
    grpc::ClientContext dctx;
    v1::DestroyDataKeysRequest d;
    d.add_object_ids(ObjectIdOf(cluster_, victim));
    v1::DestroyDataKeysResponse dr;
    ASSERT_TRUE(keys->DestroyDataKeys(&dctx, d, &dr).ok());
    ASSERT_EQ(dr.destroyed(), 1u);
  }
  Retrieved after = RetrieveStudy(stub.get(), study);
  EXPECT_EQ(after.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(after.status.error_message(),
                                "instance 2 of 3 of the set cannot be read: its data key was "
                                "destroyed"))
      << after.status.error_message();
  EXPECT_FALSE(absl::StrContains(after.status.error_message(), victim));
  ASSERT_EQ(after.instances.size(), 1u);
  EXPECT_TRUE(after.instances[0] == before.instances[0]);
}

// WADO-RS /metadata (issue 16): each instance's attributes as DCMTK's dcm2json writes them from
// the stored file, bulk values (Pixel Data, long OB/OW, waveform data inside a sequence) as
// BulkDataURIs whose /bulkdata answers are exactly the bytes dcm2json inlines
// (tests/dicomweb/metadata_check.py).
TEST_F(DicomWebTest, WadoMetadataIsDcm2jsonWithBulkDataUris) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  const std::string ecg_file = "waveform_ecg.dcm";
  absl::StatusOr<v1::PutInstanceResponse> ecg = testing::PutInstance(
      stub.get(), ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + ecg_file));
  ASSERT_TRUE(ecg.ok()) << ecg.status();
  std::vector<std::pair<std::string, v1::PutInstanceResponse>> checked = {{ecg_file, *ecg}};
  for (const Stored& s : *stored_) {
    if (s.file == "CT_small.dcm" || s.file == "MR_small.dcm") checked.emplace_back(s.file, s.put);
  }
  for (const auto& [file, put] : checked) {
    testing::CommandResult r = testing::RunCommand(
        {"/usr/bin/python3", std::string(MEDVAULT_DICOMWEB_SOURCE_DIR) + "/metadata_check.py",
         base_, cluster_->tls_dir(), "client", put.study_uid(), put.series_uid(),
         put.sop_instance_uid(), std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/" + file});
    EXPECT_EQ(r.exit_code, 0) << file << ": " << r.out << r.err;
    // Every file has Pixel Data or waveform data given by reference.
    EXPECT_TRUE(absl::StartsWith(r.out, "ok ") && r.out != "ok 0\n") << file << ": " << r.out;
  }
}

TEST_F(DicomWebTest, WadoMetadataOfSeriesAndStudyListsEveryInstance) {
  auto stub = v1::ImageStore::NewStub(
      MakeChannel(cluster_->frontend(), cluster_->SecurityAs("client"), kFrontendPeer));
  testing::DicomInstanceFactory factory(
      ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/MR_small.dcm"));
  const std::string study = "1.2.826.0.1.3680043.10.1016.4";
  const std::string series1 = study + ".1", series2 = study + ".2";
  const std::vector<std::pair<std::string, std::string>> instances = {
      {series1 + ".1", series1}, {series1 + ".2", series1}, {series2 + ".1", series2}};
  for (const auto& [sop, series] : instances) {
    absl::StatusOr<std::string> b = factory.WithUids(sop, study, series);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(testing::PutInstance(stub.get(), *b).ok());
  }
  // The SOP Instance UIDs of a metadata answer (compact DICOM JSON, one object per instance).
  auto sops_of = [&](const std::string& path, const std::string& as = "client") {
    HttpAnswer a = Curl(as, path, {"-H", "Accept: application/dicom+json"});
    EXPECT_EQ(a.status, 200) << path << ": " << a.body;
    EXPECT_EQ(a.content_type, "application/dicom+json") << path;
    std::multiset<std::string> sops;
    const std::string key = R"("00080018":{"vr":"UI","Value":[")";
    for (size_t at = a.body.find(key); at != std::string::npos; at = a.body.find(key, at + 1)) {
      const size_t start = at + key.size();
      sops.insert(a.body.substr(start, a.body.find('"', start) - start));
    }
    EXPECT_EQ(a.body.front(), '[') << path;
    EXPECT_EQ(a.body.back(), ']') << path;
    return sops;
  };
  const std::string base = "/dicomweb/studies/" + study;
  EXPECT_EQ(sops_of(base + "/metadata"),
            (std::multiset<std::string>{series1 + ".1", series1 + ".2", series2 + ".1"}));
  EXPECT_EQ(sops_of(base + "/series/" + series1 + "/metadata"),
            (std::multiset<std::string>{series1 + ".1", series1 + ".2"}));
  EXPECT_EQ(sops_of(base + "/series/" + series2 + "/instances/" + series2 + ".1/metadata",
                    "client-readonly"),
            (std::multiset<std::string>{series2 + ".1"}));
  // Unknown study, series or instance; an instance under the wrong series.
  EXPECT_EQ(Curl("client", "/dicomweb/studies/1.2.3.4.5.6.7/metadata").status, 404);
  EXPECT_EQ(Curl("client", base + "/series/1.2.3.4/metadata").status, 404);
  EXPECT_EQ(
      Curl("client", base + "/series/" + series2 + "/instances/" + series1 + ".1/metadata").status,
      404);
  EXPECT_EQ(
      Curl("client", base + "/series/" + series2 + "/instances/" + series1 + ".1/bulkdata/7FE00010")
          .status,
      404);
  EXPECT_EQ(
      Curl("client", base + "/series/" + series1 + "/instances/" + series1 + ".1/bulkdata/00100010")
          .status,
      404);
  EXPECT_EQ(Curl("client", base + "/metadata", {"-H", "Accept: application/dicom"}).status, 406);
  EXPECT_EQ(Curl("client", base + "/metadata", {"-X", "POST"}).status, 405);
  EXPECT_EQ(Curl("", base + "/metadata").status, 401);
  std::ifstream in(cluster_->LogFileOf("frontend"));
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(absl::StrContains(log,
                                "audit op=dicomweb-wado-metadata service=frontend "
                                "caller=client/client-readonly peer=127.0.0.1:"));
  EXPECT_TRUE(absl::StrContains(log,
                                "audit op=dicomweb-wado-bulkdata service=frontend "
                                "caller=client/client peer=127.0.0.1:"));
  EXPECT_FALSE(absl::StrContains(log, study));
}

}  // namespace
}  // namespace medvault
