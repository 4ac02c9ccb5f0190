// Interoperability of the DIMSE door with an archive nobody here wrote: a real Orthanc (Debian's
// package, started with a temporary configuration as bench/lib.sh does) as a C-MOVE destination
// of medvault, and as a peer that queries medvault (C-FIND) and pulls a study from it (C-MOVE to
// itself), all through Orthanc's own REST API.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/temp_dir.h"
#include "tests/testing/dicom_echo.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::CommandResult;
using testing::RunCommand;

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;
const std::string kOrthanc = "/usr/sbin/Orthanc";

class DimseOrthancTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kOrthanc)) GTEST_SKIP() << "Orthanc is not installed";
    absl::StatusOr<std::vector<int>> ports = testing::PickFreePorts(2);
    ASSERT_TRUE(ports.ok());
    orthanc_http_ = std::to_string((*ports)[0]);
    orthanc_dicom_ = std::to_string((*ports)[1]);
    const std::string peers = tmp_.path() + "/dicom-peers";
    std::ofstream(peers) << "ORTHANC 127.0.0.1 " << orthanc_dicom_ << "\n";
    const std::string access = tmp_.path() + "/dicom-access";
    std::ofstream(access) << "MOVESCU loopback read\nORTHANC loopback read\n";
    testing::ClusterOptions options;
    options.frontend_flags = {"--dicom_access_file=" + access, "--dicom_peers_file=" + peers};
    cluster_ = std::make_unique<testing::ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    port_ = std::to_string(cluster_->frontend_dicom_port());
    stub_ = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
    StartOrthanc();
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      std::cerr << "frontend log:\n"
                << testing::ReadFileBytes(cluster_->LogFileOf("frontend")) << "orthanc log:\n"
                << testing::ReadFileBytes(tmp_.path() + "/orthanc.log");
    }
  }

  // Orthanc knows medvault as modality "medvault"; it accepts C-STORE from anyone on loopback.
  void StartOrthanc() {
    const std::string dir = tmp_.path() + "/orthanc";
    std::filesystem::create_directories(dir);
    const std::string config = tmp_.path() + "/orthanc.json";
    std::ofstream(config) << "{\n  \"Name\": \"medvault-interop\",\n  \"StorageDirectory\": \""
                          << dir << "\",\n  \"IndexDirectory\": \"" << dir
                          << "\",\n  \"StorageCompression\": false,\n  \"HttpPort\": "
                          << orthanc_http_ << ",\n  \"DicomPort\": " << orthanc_dicom_
                          << ",\n  \"DicomAet\": \"ORTHANC\",\n  \"RemoteAccessAllowed\": false,\n"
                          << "  \"AuthenticationEnabled\": false,\n  \"Plugins\": [],\n"
                          << "  \"DicomModalities\": { \"medvault\": [\"MEDVAULT\", "
                          << "\"127.0.0.1\", " << port_ << "] }\n}\n";
    auto orthanc = testing::Subprocess::Start({kOrthanc, config}, tmp_.path() + "/orthanc.log");
    ASSERT_TRUE(orthanc.ok());
    orthanc_ = std::move(*orthanc);
    // Ready once its DICOM port answers an echo and its REST API answers.
    ASSERT_TRUE(testing::WaitForEcho({"-aec", "ORTHANC", "127.0.0.1", orthanc_dicom_}) &&
                testing::WaitUntil([&] { return Rest("GET", "/system").exit_code == 0; },
                                   absl::Seconds(60)))
        << "Orthanc did not start: " << testing::ReadFileBytes(tmp_.path() + "/orthanc.log");
  }
  CommandResult Rest(const std::string& method, const std::string& path,
                     const std::string& body = "") {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sf", "-X", method,
                                     "http://127.0.0.1:" + orthanc_http_ + path};
    if (!body.empty()) {
      argv.push_back("--data-binary");
      argv.push_back(body);
    }
    return RunCommand(argv);
  }
  // The data set of the instance Orthanc holds under `sop_uid`, "" when it has none.
  std::string OrthancDataSet(const std::string& sop_uid) {
    CommandResult found = Rest("POST", "/tools/lookup", sop_uid);
    std::smatch m;
    static const std::regex kId("\"ID\"\\s*:\\s*\"([0-9a-f-]+)\"");
    if (found.exit_code != 0 || !std::regex_search(found.out, m, kId)) return "";
    CommandResult file = Rest("GET", "/instances/" + m[1].str() + "/file");
    return testing::SplitPart10(file.out).second;
  }
  // Stores `source` re-encoded by DCMTK as `sop` of `study`/`series`; returns its data set.
  std::string Store(const std::string& source, const std::string& study, const std::string& sop) {
    testing::DicomInstanceFactory factory(testing::ReadFileBytes(kFiles + "/" + source));
    absl::StatusOr<std::string> bytes = factory.WithUids(sop, study, study + ".1");
    EXPECT_TRUE(bytes.ok()) << source;
    if (!bytes.ok()) return "";
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub_.get(), *bytes);
    EXPECT_TRUE(put.ok()) << source << ": " << put.status();
    return testing::SplitPart10(*bytes).second;
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::unique_ptr<v1::ImageStore::Stub> stub_;
  std::string port_, orthanc_http_, orthanc_dicom_;
  std::unique_ptr<testing::Subprocess> orthanc_;
};

// movescu asks medvault to move a study to Orthanc: Orthanc ends up with every instance, its data
// set byte for byte the stored one (JPEG included, in its stored syntax).
TEST_F(DimseOrthancTest, MedvaultMovesAStudyToOrthanc) {
  const std::string study = "1.2.826.0.1.3680043.8.498.79001";
  std::map<std::string, std::string> stored;
  stored[study + ".1.1"] = Store("CT_small.dcm", study, study + ".1.1");
  stored[study + ".1.2"] = Store("MR_small.dcm", study, study + ".1.2");
  stored[study + ".1.3"] = Store("JPEG-lossy.dcm", study, study + ".1.3");
  CommandResult moved = RunCommand({"/usr/bin/movescu", "-S", "-v", "-aet", "MOVESCU", "-aec",
                                    "MEDVAULT", "-aem", "ORTHANC", "-k", "QueryRetrieveLevel=STUDY",
                                    "-k", "StudyInstanceUID=" + study, "127.0.0.1", port_});
  EXPECT_EQ(moved.exit_code, 0) << moved.out << moved.err;
  for (const auto& [uid, dataset] : stored) {
    const std::string got = OrthancDataSet(uid);
    EXPECT_FALSE(got.empty()) << uid;
    EXPECT_TRUE(got == dataset) << uid << ": " << got.size() << " vs " << dataset.size();
  }
  EXPECT_TRUE(cluster_->Stop().ok());
}

// Orthanc, through its REST API, finds a study on medvault (C-FIND) and pulls it (a C-MOVE with
// itself as the destination): Orthanc then holds the stored instances byte for byte.
TEST_F(DimseOrthancTest, OrthancQueriesAndPullsAStudyFromMedvault) {
  const std::string study = "1.2.826.0.1.3680043.8.498.79002";
  std::map<std::string, std::string> stored;
  stored[study + ".1.1"] = Store("CT_small.dcm", study, study + ".1.1");
  stored[study + ".1.2"] = Store("MR_small.dcm", study, study + ".1.2");
  CommandResult query = Rest("POST", "/modalities/medvault/query",
                             "{\"Level\": \"Study\", \"Query\": {\"StudyInstanceUID\": \"" + study +
                                 "\", \"PatientID\": \"\"}}");
  ASSERT_EQ(query.exit_code, 0) << query.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(query.out, m, std::regex("\"ID\"\\s*:\\s*\"([0-9a-f-]+)\"")))
      << query.out;
  const std::string query_id = m[1].str();
  CommandResult answers = Rest("GET", "/queries/" + query_id + "/answers/0/content?simplify");
  ASSERT_EQ(answers.exit_code, 0) << answers.err;
  EXPECT_TRUE(absl::StrContains(answers.out, study)) << answers.out;
  // Retrieve the answer to Orthanc itself (synchronous: returns once the C-MOVE ended).
  CommandResult retrieve = Rest("POST", "/queries/" + query_id + "/retrieve", "ORTHANC");
  ASSERT_EQ(retrieve.exit_code, 0) << retrieve.out << retrieve.err;
  for (const auto& [uid, dataset] : stored) {
    const std::string got = OrthancDataSet(uid);
    EXPECT_FALSE(got.empty()) << uid;
    EXPECT_TRUE(got == dataset) << uid << ": " << got.size() << " vs " << dataset.size();
  }
  EXPECT_TRUE(absl::StrContains(testing::ReadFileBytes(cluster_->LogFileOf("frontend")),
                                "audit op=dimse-move service=frontend caller=dicom/ORTHANC "
                                "peer=127.0.0.1 destination=ORTHANC status=0x0000 completed=2"));
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault
