// Issue 16's DICOMweb door with the real binaries, driven by curl (a client nobody here wrote):
// pydicom's files stored through gRPC come back byte-exact through WADO-RS (instance, series,
// study: multipart/related) and WADO-URI; QIDO-RS finds them from the index; and the door refuses
// what it must (404, 405, 406, no client certificate, a read-only client posting to STOW-RS).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "common/testing/file_scan.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;

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
};

class DicomWebTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::vector<int>> port = testing::PickFreePorts(1);
    started_ = port.status();
    if (!started_.ok()) return;
    base_ = absl::StrCat("https://127.0.0.1:", (*port)[0]);
    testing::ClusterOptions options;
    options.frontend_flags = {absl::StrCat("--http_port=", (*port)[0])};
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
      if (absl::StartsWithIgnoreCase(v, "content-type:")) {
        a.content_type = std::string(absl::StripAsciiWhitespace(v.substr(13)));
      }
    }
    return a;
  }

  // The parts of a multipart/related body (RFC 2046), after checking its type.
  static std::vector<std::string> Parts(const HttpAnswer& a) {
    EXPECT_TRUE(absl::StartsWith(a.content_type, "multipart/related")) << a.content_type;
    EXPECT_TRUE(absl::StrContains(a.content_type, "type=\"application/dicom\""));
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
      parts.push_back(a.body.substr(start + 4, end - start - 4));
      pos = end + 2;
    }
    ADD_FAILURE() << "no closing delimiter";
    return parts;
  }

  static std::string InstancePath(const v1::PutInstanceResponse& p) {
    return absl::StrCat("/dicomweb/studies/", p.study_uid(), "/series/", p.series_uid(),
                        "/instances/", p.sop_instance_uid());
  }

  static ExternalCluster* cluster_;
  static absl::Status started_;
  static std::string base_;
  static std::vector<Stored>* stored_;
};

ExternalCluster* DicomWebTest::cluster_ = nullptr;
absl::Status DicomWebTest::started_;
std::string DicomWebTest::base_;
std::vector<Stored>* DicomWebTest::stored_ = new std::vector<Stored>();

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
  const std::string study = "1.2.826.0.1.3680043.10.1016.2";
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
