// Bad input and limits on the DIMSE door (issue 16), against the real frontend: bytes that are not
// a PDU, an association aborted mid-instance (nothing visible to findscu nor to the CLI), the
// association limit and the idle timeout. The holding and aborting peer is DCMTK's dcmnet driven
// from here, since no DCMTK tool holds an association open or aborts on request.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::CommandResult;
using testing::RunCommand;

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;

// An association from `calling_ae` proposing Verification and CT Image Storage (explicit VR
// little endian), or nullptr.
struct Peer {
  T_ASC_Network* net = nullptr;
  T_ASC_Association* assoc = nullptr;
  ~Peer() {
    if (assoc != nullptr) {
      ASC_abortAssociation(assoc);
      ASC_destroyAssociation(&assoc);
    }
    if (net != nullptr) ASC_dropNetwork(&net);
  }
  OFCondition Open(const std::string& calling_ae, const std::string& port) {
    OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, 30, &net);
    T_ASC_Parameters* params = nullptr;
    if (c.good()) c = ASC_createAssociationParameters(&params, 16384);
    if (c.good()) c = ASC_setAPTitles(params, calling_ae.c_str(), "MEDVAULT", nullptr);
    if (c.good())
      c = ASC_setPresentationAddresses(params, "localhost", ("127.0.0.1:" + port).c_str());
    const char* ts[] = {UID_LittleEndianExplicitTransferSyntax};
    if (c.good()) c = ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, ts, 1);
    if (c.good()) c = ASC_addPresentationContext(params, 3, UID_CTImageStorage, ts, 1);
    if (c.good()) c = ASC_requestAssociation(net, params, &assoc);
    return c;
  }
};

class DimseLimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> flags) {
    testing::ClusterOptions options;
    options.chunk_size_bytes = 64 << 10;
    options.frontend_flags = std::move(flags);
    cluster_ = std::make_unique<testing::ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    port_ = std::to_string(cluster_->frontend_dicom_port());
  }
  CommandResult Echo() {
    return RunCommand({"/usr/bin/echoscu", "-aec", "MEDVAULT", "127.0.0.1", port_});
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      std::cerr << "frontend log:\n"
                << RunCommand({"/usr/bin/cat", cluster_->LogFileOf("frontend")}).out;
    }
  }
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::string port_;
};

// With --dicom_max_associations=1, an association held open makes the next one be rejected
// (transient, local limit exceeded); the held one is aborted by the door once idle for
// --dicom_idle_timeout_seconds, and then a new association is accepted.
TEST_F(DimseLimitsTest, MaxAssociationsAndIdleTimeout) {
  Start({"--dicom_max_associations=1", "--dicom_idle_timeout_seconds=2"});
  Peer holder;
  ASSERT_TRUE(holder.Open("HOLDER", port_).good());
  CommandResult refused = Echo();
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(refused.out + refused.err, "Local Limit Exceeded"))
      << refused.out << refused.err;
  // The holder sends nothing: the door aborts it (the wait ends on the abort, whatever it takes).
  T_ASC_PresentationContextID pres_id = 0;
  T_DIMSE_Message msg{};
  OFCondition c = DIMSE_receiveCommand(holder.assoc, DIMSE_BLOCKING, 0, &pres_id, &msg, nullptr);
  EXPECT_TRUE(c == DUL_PEERABORTEDASSOCIATION || c == DUL_NETWORKCLOSED) << c.text();
  // Its slot is freed once the door has dropped it.
  bool admitted = false;
  for (int i = 0; i < 200 && !admitted; ++i) admitted = Echo().exit_code == 0;
  EXPECT_TRUE(admitted);
  EXPECT_TRUE(cluster_->Stop().ok());
}

// Bytes that are not a PDU (an A-ASSOCIATE-RQ type with a garbage body, then random bytes) end
// that connection only: the door goes on serving.
TEST_F(DimseLimitsTest, MalformedPdusEndOnlyTheirConnection) {
  Start({});
  for (const std::string& junk :
       {std::string("\x01\x00\x00\x00\x00\x10GARBAGEGARBAGE!!", 22),
        std::string("\x04\x00\xff\xff\xff\xff", 6), std::string("GET / HTTP/1.1\r\n\r\n"),
        std::string(300, '\x07')}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::stoi(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    shutdown(fd, SHUT_WR);
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }  // the door answers (A-ASSOCIATE-RJ or A-ABORT) and closes, or just closes
    close(fd);
    CommandResult echo = Echo();
    EXPECT_EQ(echo.exit_code, 0) << echo.err;
  }
  EXPECT_TRUE(cluster_->Stop().ok());
}

// A C-STORE aborted after 1 MiB of a 4 MiB data set: neither findscu (the index) nor the CLI (the
// object) sees anything of the study.
TEST_F(DimseLimitsTest, AnAbortedInstanceIsInvisibleToFindscuAndTheCli) {
  Start({});
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  DcmDataset* ds = ff.getDataset();
  ASSERT_TRUE(ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
  const std::string study = "1.2.826.0.1.3680043.8.498.80001";
  const std::string uid = study + ".1.1";
  ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
  ds->putAndInsertString(DCM_SOPInstanceUID, uid.c_str());
  ds->putAndInsertString(DcmTagKey(0x0099, 0x0010), "MEDVAULT TEST");
  std::vector<Uint8> big(4 << 20, 0x5a);
  ASSERT_TRUE(
      ds->putAndInsertUint8Array(DcmTag(0x0099, 0x1000, EVR_OB), big.data(), big.size()).good());
  Peer sender;
  ASSERT_TRUE(sender.Open("ABORTER", port_).good());
  T_DIMSE_Message msg{};
  msg.CommandField = DIMSE_C_STORE_RQ;
  T_DIMSE_C_StoreRQ& req = msg.msg.CStoreRQ;
  req.MessageID = 1;
  OFStandard::strlcpy(req.AffectedSOPClassUID, UID_CTImageStorage, sizeof(req.AffectedSOPClassUID));
  OFStandard::strlcpy(req.AffectedSOPInstanceUID, uid.c_str(), sizeof(req.AffectedSOPInstanceUID));
  req.DataSetType = DIMSE_DATASET_PRESENT;
  req.Priority = DIMSE_PRIORITY_MEDIUM;
  struct Ctx {
    T_ASC_Association* assoc;
    bool aborted = false;
  } ctx{sender.assoc};
  DIMSE_sendMessageUsingMemoryData(
      sender.assoc, 3, &msg, nullptr, ds,
      [](void* p, unsigned long bytes) {
        auto* ctx = static_cast<Ctx*>(p);
        if (!ctx->aborted && bytes > (1u << 20)) {
          ctx->aborted = true;
          ASC_abortAssociation(ctx->assoc);
        }
      },
      &ctx);
  ASSERT_TRUE(ctx.aborted);
  // The door has seen the abort once a later association is served after it (one thread per
  // association, but the put of the aborted one is dropped before its thread ends: the counter).
  const std::string aborted =
      "medvault_frontend_dimse_requests_total{command=\"C-STORE\",status=\"0xFFFF\"}";
  bool seen = false;
  for (int i = 0; i < 600 && !seen; ++i) {
    Echo();
    seen = testing::ScrapeMetric(cluster_->frontend_metrics(), aborted).value_or(0) >= 1;
  }
  ASSERT_TRUE(seen);
  auto find = [&] {
    return RunCommand({"/usr/bin/findscu", "-S", "-v", "-aec", "MEDVAULT", "-k",
                       "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + study, "127.0.0.1",
                       port_});
  };
  testing::TempDir out;
  auto get = [&] {
    std::vector<std::string> cli = cluster_->Cli();
    cli.insert(cli.end(), {"get", "--instance", uid, "-o", out.path() + "/x.dcm"});
    return RunCommand(cli);
  };
  CommandResult found = find();
  EXPECT_TRUE(absl::StrContains(found.out + found.err, "Final Find Response (Success)"))
      << found.out << found.err;
  EXPECT_FALSE(absl::StrContains(found.out + found.err, "(Pending)")) << found.out << found.err;
  CommandResult got = get();
  EXPECT_NE(got.exit_code, 0);
  // Sent whole (storescu), the same instance is found and fetched: the checks above can see it.
  const std::string whole = out.path() + "/whole.dcm";
  ASSERT_TRUE(ff.saveFile(whole.c_str(), EXS_LittleEndianExplicit).good());
  CommandResult stored =
      RunCommand({"/usr/bin/storescu", "-aec", "MEDVAULT", "127.0.0.1", port_, whole});
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  found = find();
  EXPECT_TRUE(absl::StrContains(found.out + found.err, "(Pending)")) << found.out << found.err;
  got = get();
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault
