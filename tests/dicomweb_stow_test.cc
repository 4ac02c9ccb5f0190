// Issue 16's STOW-RS with curl and dicomweb-client: pydicom's files stored byte-exact, a cut body
// leaving nothing of its cut part, and what STOW-RS refuses. The cluster is
// tests/testing/dicomweb_fixture.h.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
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
#include "tests/testing/proc_status.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::ExternalCluster;
using testing::ReadWholeFile;

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

// The pid of the cluster's frontend: the process running the frontend binary with this cluster's
// directory on its command line.
pid_t FrontendPid(const ExternalCluster& cluster) {
  return testing::PidOf(ExternalCluster::Binary("frontend"), cluster.root());
}

// Issue 16: a large instance stored through STOW-RS (curl streaming it from a file) comes back
// byte-exact through WADO-URI (compared by SHA-256, never held here), and both ways are
// streamed: the frontend's peak RSS (VmHWM, reset just before each) grows by far less than the
// object, on the upload too (the put's parser skips Pixel Data rather than loading it).
// MEDVAULT_BIG_STOW_MB sets the size (CI: 128 MB; bench/big_stow.sh runs 1 GB). A second instance
// has a whole-slide image's layout: encapsulated Pixel Data in 32 KiB fragments ("tiles"), each
// short enough for the put's parser to load, which drops each one once read.
TEST_F(DicomWebTest, StowRsLargeInstanceRoundTripsAndReadsBackInBoundedMemory) {
  const char* env = std::getenv("MEDVAULT_BIG_STOW_MB");
  const int native_mb = env != nullptr ? std::atoi(env) : 128;
  for (const std::string layout : {"", "tiles"}) {
    SCOPED_TRACE(layout);
    const int mb = layout.empty() ? native_mb : 64;
    const std::string study =
        layout.empty() ? "1.2.826.0.1.3680043.10.1016.6" : "1.2.826.0.1.3680043.10.1016.8";
    const std::string body = cluster_->root() + "/big-stow-body";
    const std::string series = study + ".1", sop = series + ".1";
    std::vector<std::string> make = {
        "/usr/bin/python3",
        std::string(MEDVAULT_DICOMWEB_SCRIPTS_DIR) + "/big_stow_body.py",
        body,
        "big",
        std::to_string(mb),
        study,
        series,
        sop};
    if (!layout.empty()) make.push_back(layout);
    testing::CommandResult made = testing::RunCommand(make);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    std::vector<std::string> sent = absl::StrSplit(absl::StripAsciiWhitespace(made.out), ' ');
    ASSERT_EQ(sent.size(), 2u) << made.out;
    const long object_kb = std::atol(sent[1].c_str()) / 1024;

    const pid_t frontend = FrontendPid(*cluster_);
    ASSERT_GT(frontend, 0);
    testing::ResetPeakRss(frontend);
    const long before_kb = testing::StatusKb(frontend, "VmRSS");
    ASSERT_GT(before_kb, 0);
    ASSERT_LE(testing::StatusKb(frontend, "VmHWM"), before_kb + 1024) << "peak RSS not reset";
    // -T streams the file (--data-binary would read it whole into curl's memory).
    HttpAnswer a =
        Curl("client", "/dicomweb/studies",
             {"-X", "POST", "-T", body, "-H",
              "Content-Type: multipart/related; type=\"application/dicom\"; boundary=big"});
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(RetrieveUrls(a.body).size(), 1u) << a.body;
    const long stow_peak_kb = testing::StatusKb(frontend, "VmHWM");
    testing::ResetPeakRss(frontend);
    const long read_before_kb = testing::StatusKb(frontend, "VmRSS");

    // Back through WADO-URI into a file, hashed there.
    const std::string back = cluster_->root() + "/big-stow-back";
    const TlsFiles tls = testing::DevTlsFiles(cluster_->tls_dir(), "client");
    testing::CommandResult got =
        testing::RunCommand({"/usr/bin/curl", "-sS", "-f", "--cacert", tls.ca_file, "--cert",
                             tls.cert_file, "--key", tls.key_file, "-o", back,
                             absl::StrCat(base_, "/dicomweb/wado?requestType=WADO&studyUID=", study,
                                          "&seriesUID=", series, "&objectUID=", sop)});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    testing::CommandResult hashed = testing::RunCommand({"/usr/bin/sha256sum", back});
    ASSERT_EQ(hashed.exit_code, 0) << hashed.err;
    EXPECT_EQ(hashed.out.substr(0, 64), sent[0]);
    const long peak_kb = testing::StatusKb(frontend, "VmHWM");
    std::remove(body.c_str());
    std::remove(back.c_str());
    std::cerr << "big STOW-RS" << (layout.empty() ? "" : " (" + layout + ")") << ": "
              << object_kb / 1024 << " MiB object; frontend RSS before " << before_kb / 1024
              << " MiB, peak during STOW-RS " << stow_peak_kb / 1024 << " MiB; RSS before WADO-URI "
              << read_before_kb / 1024 << " MiB, peak during it " << peak_kb / 1024 << " MiB\n";
    // Bounded: each peak grew by less than a third of the object (a few chunks and parts in
    // flight, not the instance).
    EXPECT_LT(stow_peak_kb - before_kb, object_kb / 3);
    EXPECT_LT(peak_kb - read_before_kb, object_kb / 3);
  }
}

}  // namespace
}  // namespace medvault
