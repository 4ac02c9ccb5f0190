// Issue 16's WADO-RS /metadata (study, series, instance) and /bulkdata, checked against DCMTK's
// dcm2json. The cluster is tests/testing/dicomweb_fixture.h.
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
