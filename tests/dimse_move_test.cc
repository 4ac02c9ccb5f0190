// C-MOVE on the DIMSE door (issue 16) with DICOM tools nobody here wrote: DCMTK's movescu asks the
// real frontend (in a real cluster) to move a study, a series and instances to DCMTK's storescp,
// named in the frontend's peers table. The data sets storescp receives must be the stored ones
// byte for byte (storescp --bit-preserving writes them as they came off the association, behind
// its own meta header).
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "tests/testing/dicom_echo.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunCommand;

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;
const std::string kStudy = "1.2.826.0.1.3680043.8.498.78001";

class DimseMoveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<int>> ports = testing::PickFreePorts(3);
    ASSERT_TRUE(ports.ok());
    dest_port_ = std::to_string((*ports)[0]);
    ct_only_port_ = std::to_string((*ports)[2]);
    // DOWN is listed but nothing listens on its port; CTONLY accepts CT Image Storage alone.
    const std::string peers = tmp_.path() + "/dicom-peers";
    std::ofstream(peers) << "# C-MOVE destinations\nDEST 127.0.0.1 " << dest_port_
                         << "\nDOWN 127.0.0.1 " << (*ports)[1] << "\nCTONLY 127.0.0.1 "
                         << ct_only_port_ << "\n";
    const std::string access = tmp_.path() + "/dicom-access";
    std::ofstream(access) << "MOVESCU loopback read\nWRITER loopback write\n";
    testing::ClusterOptions options;
    options.chunk_size_bytes = 64 << 10;  // larger files span several chunks
    options.frontend_flags = {"--dicom_access_file=" + access, "--dicom_peers_file=" + peers};
    cluster_ = std::make_unique<testing::ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    port_ = std::to_string(cluster_->frontend_dicom_port());
    stub_ = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) std::cerr << "frontend log:\n" << FrontendLog();
  }
  std::string FrontendLog() { return testing::ReadFileBytes(cluster_->LogFileOf("frontend")); }

  // Stores `source` as instance `sop` of series `series` of kStudy (re-encoded by DCMTK in its own
  // transfer syntax); returns the stored data set.
  std::string Store(const std::string& source, const std::string& series, const std::string& sop) {
    testing::DicomInstanceFactory factory(testing::ReadFileBytes(kFiles + "/" + source));
    absl::StatusOr<std::string> bytes = factory.WithUids(sop, kStudy, series);
    EXPECT_TRUE(bytes.ok()) << source;
    if (!bytes.ok()) return "";
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub_.get(), *bytes);
    EXPECT_TRUE(put.ok()) << source << ": " << put.status();
    return testing::SplitPart10(*bytes).second;
  }

  // Starts DCMTK's storescp as DEST (every transfer syntax it knows, data sets kept as received).
  void StartDestination() {
    dest_dir_ = tmp_.path() + "/dest";
    fs::create_directories(dest_dir_);
    auto scp = testing::Subprocess::Start({"/usr/bin/storescp", "--bit-preserving", "+xa", "-aet",
                                           "DEST", "-od", dest_dir_, dest_port_},
                                          tmp_.path() + "/storescp.log");
    ASSERT_TRUE(scp.ok());
    dest_ = std::move(*scp);
    ASSERT_TRUE(testing::WaitForEcho({"-aec", "DEST", "127.0.0.1", dest_port_}))
        << "storescp did not start";
  }
  // Starts a second storescp as CTONLY, accepting CT Image Storage (uncompressed) and nothing
  // else, keeping what it receives in `ct_only_dir_`.
  void StartCtOnlyDestination() {
    ct_only_dir_ = tmp_.path() + "/ct-only";
    fs::create_directories(ct_only_dir_);
    const std::string config = tmp_.path() + "/ct-only.cfg";
    std::ofstream(config) << "[[TransferSyntaxes]]\n[Uncompressed]\n"
                             "TransferSyntax1 = LocalEndianExplicit\n"
                             "TransferSyntax2 = LittleEndianImplicit\n"
                             "[[PresentationContexts]]\n[CtOnly]\n"
                             "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                             "PresentationContext2 = CTImageStorage\\Uncompressed\n"
                             "[[Profiles]]\n[CtOnly]\nPresentationContexts = CtOnly\n";
    auto scp =
        testing::Subprocess::Start({"/usr/bin/storescp", "--bit-preserving", "-xf", config,
                                    "CtOnly", "-aet", "CTONLY", "-od", ct_only_dir_, ct_only_port_},
                                   tmp_.path() + "/storescp-ct-only.log");
    ASSERT_TRUE(scp.ok());
    ct_only_ = std::move(*scp);
    ASSERT_TRUE(testing::WaitForEcho({"-aec", "CTONLY", "127.0.0.1", ct_only_port_}))
        << "storescp CTONLY did not start";
  }
  // What DEST received since the last call (by SOP Instance UID -> data set); empties its folder.
  std::map<std::string, std::string> Received() {
    std::map<std::string, std::string> out = testing::DataSetsBySopInstanceUid(dest_dir_);
    for (const std::string& f : testing::FilesIn(dest_dir_)) fs::remove(f);
    return out;
  }

  // Runs movescu (Study Root unless `patient_root`) as `aet`, asking for a move to `destination`.
  // `verbosity` "-d" prints the responses whole (status and Error Comment).
  CommandResult Movescu(const std::string& aet, const std::string& destination,
                        const std::vector<std::string>& keys, bool patient_root = false,
                        const std::string& verbosity = "-v") {
    std::vector<std::string> argv = {"/usr/bin/movescu",
                                     patient_root ? "-P" : "-S",
                                     verbosity,
                                     "-aet",
                                     aet,
                                     "-aec",
                                     "MEDVAULT",
                                     "-aem",
                                     destination};
    for (const std::string& k : keys) {
      argv.push_back("-k");
      argv.push_back(k);
    }
    argv.push_back("127.0.0.1");
    argv.push_back(port_);
    return RunCommand(argv);
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::unique_ptr<v1::ImageStore::Stub> stub_;
  std::string port_, dest_port_, dest_dir_, ct_only_port_, ct_only_dir_;
  std::unique_ptr<testing::Subprocess> dest_, ct_only_;
};

// Study, series and instance level, Study Root and Patient Root: every instance arrives at the
// destination with the stored data set byte for byte, in its stored transfer syntax (JPEG
// included: the sub-association proposes each instance's own syntax), and the move is audited
// with the calling AE title, the peer address, the destination and the counts.
TEST_F(DimseMoveTest, MovescuSendsStudySeriesAndInstancesByteExactToTheDestination) {
  StartDestination();
  const std::string series_a = kStudy + ".1", series_b = kStudy + ".2";
  std::map<std::string, std::string> stored;  // SOP Instance UID -> data set
  stored[series_a + ".1"] = Store("CT_small.dcm", series_a, series_a + ".1");
  stored[series_a + ".2"] = Store("MR_small.dcm", series_a, series_a + ".2");
  stored[series_b + ".3"] = Store("CT_small.dcm", series_b, series_b + ".3");
  stored[series_b + ".4"] = Store("JPEG-lossy.dcm", series_b, series_b + ".4");
  for (const auto& [uid, dataset] : stored) ASSERT_GT(dataset.size(), 1000u) << uid;

  CommandResult moved =
      Movescu("MOVESCU", "DEST", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + kStudy},
              /*patient_root=*/false, "-d");
  EXPECT_EQ(moved.exit_code, 0) << moved.out << moved.err;
  // PS3.4 C.4.2.3: a pending response after each sub-operation but the last, counting down the
  // remaining ones; the final one with the completed, failed and warning counts.
  for (const char* count :
       {"Remaining Suboperations       : 3", "Remaining Suboperations       : 1",
        "Completed Suboperations       : 3", "Completed Suboperations       : 4",
        "Failed Suboperations          : 0"}) {
    EXPECT_TRUE(absl::StrContains(moved.out + moved.err, count)) << count;
  }
  std::map<std::string, std::string> got = Received();
  ASSERT_EQ(got.size(), 4u) << moved.out << moved.err;
  for (const auto& [uid, dataset] : stored) {
    EXPECT_TRUE(got[uid] == dataset) << uid << ": " << got[uid].size() << " vs " << dataset.size();
  }
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "audit op=dimse-move service=frontend caller=dicom/MOVESCU "
                                "peer=127.0.0.1 destination=DEST status=0x0000 completed=4 "
                                "failed=0 warning=0"));
  // The study is one set retrieval: ONE key release record names all four objects.
  for (const auto& [uid, dataset] : stored) {
    absl::StatusOr<std::vector<v1::AuditRecord>> releases = testing::KeyReleasesOf(*cluster_, uid);
    ASSERT_TRUE(releases.ok()) << releases.status();
    ASSERT_EQ(releases->size(), 1u) << uid;
    EXPECT_EQ((*releases)[0].object_ids_size(), 4);
    EXPECT_EQ((*releases)[0].purpose(), "C-MOVE");
    EXPECT_EQ((*releases)[0].on_behalf_of(), "dicom/MOVESCU@127.0.0.1");
  }

  // SERIES, Patient Root.
  moved = Movescu(
      "MOVESCU", "DEST",
      {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + kStudy, "SeriesInstanceUID=" + series_b},
      /*patient_root=*/true);
  got = Received();
  ASSERT_EQ(got.size(), 2u) << moved.out << moved.err;
  EXPECT_TRUE(got[series_b + ".3"] == stored[series_b + ".3"]);
  EXPECT_TRUE(got[series_b + ".4"] == stored[series_b + ".4"]);

  // IMAGE, a list of two UIDs.
  moved = Movescu(
      "MOVESCU", "DEST",
      {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + kStudy, "SeriesInstanceUID=" + series_a,
       "SOPInstanceUID=" + series_a + ".1\\" + series_a + ".2"});
  got = Received();
  ASSERT_EQ(got.size(), 2u) << moved.out << moved.err;
  EXPECT_TRUE(got[series_a + ".1"] == stored[series_a + ".1"]);
  EXPECT_TRUE(got[series_a + ".2"] == stored[series_a + ".2"]);
  EXPECT_TRUE(absl::StrContains(FrontendLog(), "destination=DEST status=0x0000 completed=2"));

  // The key service released each instance's key to the caller, as for C-GET: no UID is logged.
  const std::string log = FrontendLog();
  for (const auto& [uid, dataset] : stored) EXPECT_FALSE(absl::StrContains(log, uid));
  EXPECT_TRUE(cluster_->Stop().ok());
}

// A destination not in the peers table is refused with A801 and an Error Comment; a listed one
// that is down fails every sub-operation (A702, each counted failed) and no data key is released;
// a destination that accepts CT Image Storage only gets the CT instance, the MR one is a failed
// sub-operation and only the CT instance's key is released; a caller without the read scope
// gets no C-MOVE context at all.
TEST_F(DimseMoveTest, UnknownDownAndUnauthorisedMovesAreRefusedClearly) {
  StartDestination();
  const std::string ct = kStudy + ".1.1", mr = kStudy + ".1.2";
  Store("CT_small.dcm", kStudy + ".1", ct);
  Store("MR_small.dcm", kStudy + ".1", mr);
  auto releases_of = [&](const std::string& uid) {
    absl::StatusOr<std::vector<v1::AuditRecord>> releases = testing::KeyReleasesOf(*cluster_, uid);
    EXPECT_TRUE(releases.ok()) << releases.status();
    return releases.ok() ? *releases : std::vector<v1::AuditRecord>();
  };
  const std::vector<std::string> study = {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + kStudy};

  CommandResult unknown = Movescu("MOVESCU", "NOWHERE", study, false, "-d");
  const std::string unknown_out = unknown.out + unknown.err;
  EXPECT_TRUE(absl::StrContains(unknown_out, "0xa801")) << unknown_out;
  EXPECT_TRUE(absl::StrContains(unknown_out, "Move Destination unknown")) << unknown_out;
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "audit op=dimse-move service=frontend caller=dicom/MOVESCU "
                                "peer=127.0.0.1 destination=NOWHERE status=0xA801 completed=0 "
                                "failed=0 warning=0"));

  CommandResult down = Movescu("MOVESCU", "DOWN", study, false, "-d");
  const std::string down_out = down.out + down.err;
  EXPECT_TRUE(absl::StrContains(down_out, "0xa702")) << down_out;
  EXPECT_TRUE(absl::StrContains(down_out, "Move Destination not reachable")) << down_out;
  EXPECT_TRUE(absl::StrContains(down_out, "Failed Suboperations          : 2")) << down_out;
  EXPECT_TRUE(absl::StrContains(down_out, "Completed Suboperations       : 0")) << down_out;
  EXPECT_TRUE(absl::StrContains(down_out, "FailedSOPInstanceUIDList")) << down_out;
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "destination=DOWN status=0xA702 completed=0 failed=2 warning=0"));
  // Nothing was sent, so no key was released.
  EXPECT_TRUE(releases_of(ct).empty());
  EXPECT_TRUE(releases_of(mr).empty());

  // CTONLY accepts the CT instance's context and refuses the MR one's: the MR instance fails
  // before it is read, and the one key release names the CT instance alone.
  StartCtOnlyDestination();
  CommandResult ct_only = Movescu("MOVESCU", "CTONLY", study, false, "-d");
  const std::string ct_only_out = ct_only.out + ct_only.err;
  EXPECT_TRUE(absl::StrContains(ct_only_out, "0xb000")) << ct_only_out;
  EXPECT_TRUE(absl::StrContains(ct_only_out, "Failed Suboperations          : 1")) << ct_only_out;
  EXPECT_TRUE(absl::StrContains(ct_only_out, "Completed Suboperations       : 1")) << ct_only_out;
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "destination=CTONLY status=0xB000 completed=1 failed=1 warning=0"));
  std::map<std::string, std::string> at_ct_only = testing::DataSetsBySopInstanceUid(ct_only_dir_);
  ASSERT_EQ(at_ct_only.size(), 1u) << ct_only_out;
  EXPECT_EQ(at_ct_only.count(ct), 1u);
  const std::vector<v1::AuditRecord> ct_releases = releases_of(ct);
  ASSERT_EQ(ct_releases.size(), 1u);
  EXPECT_EQ(ct_releases[0].object_ids_size(), 1);
  EXPECT_EQ(ct_releases[0].purpose(), "C-MOVE");
  EXPECT_TRUE(releases_of(mr).empty());

  CommandResult writer = Movescu("WRITER", "DEST", study);
  EXPECT_NE(writer.exit_code, 0);
  EXPECT_TRUE(Received().empty());
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault
