// A bounded random-mutation fuzz of the DIMSE door's C-STORE data set input (issue 16), against
// the real frontend: a fixed number of CT data sets, each mutated by a seeded generator (bytes
// flipped, overwritten, inserted, slices duplicated, truncated), sent as raw PDVs behind a valid
// C-STORE command. Whatever the bytes, the door must answer with a status or end the association,
// keep serving, and keep the store's promise: a success status means exactly the sent bytes are
// stored; anything else means nothing is visible under the request's SOP Instance UID.
#include <random>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "frontend/dimse/retrieve.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/part10.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;
constexpr int kIterations = 120;
constexpr uint32_t kSeed = 16;

// `dataset` mutated by 1..6 random edits.
std::string Mutate(std::string dataset, std::mt19937& rng) {
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n)(rng); };
  const size_t edits = 1 + pick(5);
  for (size_t e = 0; e < edits && !dataset.empty(); ++e) {
    const size_t at = pick(dataset.size() - 1);
    switch (pick(5)) {
      case 0:
        dataset[at] ^= static_cast<char>(1 << pick(7));
        break;
      case 1:
        dataset[at] = static_cast<char>(pick(255));
        break;
      case 2:
        dataset.insert(at, std::string(1 + pick(16), static_cast<char>(pick(255))));
        break;
      case 3:
        dataset.insert(at, dataset.substr(pick(dataset.size() - 1), 1 + pick(64)));
        break;
      case 4:
        dataset.resize(at);
        break;
      default:  // a length field's worth of 0xFF (undefined length)
        dataset.replace(at, std::min<size_t>(4, dataset.size() - at), "\xff\xff\xff\xff");
        break;
    }
  }
  if (dataset.empty()) dataset.assign(1, '\x08');  // a data set announced is never empty
  return dataset;
}

struct Sender {
  T_ASC_Network* net = nullptr;
  T_ASC_Association* assoc = nullptr;
  ~Sender() { Close(true); }
  void Close(bool abort) {
    if (assoc != nullptr) {
      if (abort || ASC_releaseAssociation(assoc).bad()) ASC_abortAssociation(assoc);
      ASC_destroyAssociation(&assoc);
    }
    if (net != nullptr) ASC_dropNetwork(&net);
  }
  bool Open(const std::string& port, const std::string& ts) {
    OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, 30, &net);
    T_ASC_Parameters* params = nullptr;
    if (c.good()) c = ASC_createAssociationParameters(&params, 16384);
    if (c.good()) c = ASC_setAPTitles(params, "FUZZER", "MEDVAULT", nullptr);
    if (c.good())
      c = ASC_setPresentationAddresses(params, "localhost", ("127.0.0.1:" + port).c_str());
    const char* syntaxes[] = {ts.c_str()};
    if (c.good()) c = ASC_addPresentationContext(params, 1, UID_CTImageStorage, syntaxes, 1);
    if (c.good()) c = ASC_requestAssociation(net, params, &assoc);
    return c.good();
  }
  bool Write(DUL_DATAPDV type, const std::string& bytes) {
    const size_t max = std::max<size_t>(2, assoc->sendPDVLength & ~1ul);
    size_t at = 0;
    do {
      const size_t n = std::min(max, bytes.size() - at);
      DUL_PDV pdv{};
      pdv.fragmentLength = n;
      pdv.presentationContextID = 1;
      pdv.pdvType = type;
      pdv.lastPDV = at + n == bytes.size() ? OFTrue : OFFalse;
      pdv.data = const_cast<char*>(bytes.data() + at);
      DUL_PDVLIST list{};
      list.count = 1;
      list.pdv = &pdv;
      if (DUL_WritePDVs(&assoc->DULassociation, &list).bad()) return false;
      at += n;
    } while (at < bytes.size());
    return true;
  }
};

TEST(DimseFuzzTest, MutatedDataSetsAreStoredExactlyOrRefusedAndLeaveNothingVisible) {
  testing::ExternalCluster cluster{testing::ClusterOptions{}};
  ASSERT_TRUE(cluster.Start().ok());
  const std::string port = std::to_string(cluster.frontend_dicom_port());
  auto stub = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  const std::string ts = UID_LittleEndianExplicitTransferSyntax;
  ASSERT_TRUE(ct.getDataset()->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
  std::mt19937 rng(kSeed);
  int stored = 0, refused = 0, aborted = 0;
  Sender sender;
  for (int i = 0; i < kIterations; ++i) {
    const std::string uid = absl::StrCat("1.2.826.0.1.3680043.8.498.81", i + 1);
    ct.getDataset()->putAndInsertString(DCM_SOPInstanceUID, uid.c_str());
    ct.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, uid.c_str());
    testing::TempDir dir;
    ASSERT_TRUE(ct.saveFile((dir.path() + "/ct.dcm").c_str(), EXS_LittleEndianExplicit).good());
    const std::string dataset =
        Mutate(testing::SplitPart10(testing::ReadFileBytes(dir.path() + "/ct.dcm")).second, rng);
    if (sender.assoc == nullptr) ASSERT_TRUE(sender.Open(port, ts)) << "iteration " << i;
    absl::StatusOr<std::string> command = frontend::StoreCommandSet(
        frontend::RetrieveItem{uid, UID_CTImageStorage, ts}, static_cast<uint16_t>(i + 1), "", 0);
    ASSERT_TRUE(command.ok());
    bool answered = false;
    uint16_t status = 0;
    if (sender.Write(DUL_COMMANDPDV, *command) && sender.Write(DUL_DATASETPDV, dataset)) {
      T_ASC_PresentationContextID pres_id = 0;
      T_DIMSE_Message rsp{};
      DcmDataset* detail = nullptr;
      OFCondition c =
          DIMSE_receiveCommand(sender.assoc, DIMSE_BLOCKING, 0, &pres_id, &rsp, &detail);
      delete detail;
      answered = c.good() && rsp.CommandField == DIMSE_C_STORE_RSP;
      status = rsp.msg.CStoreRSP.DimseStatus;
    }
    absl::StatusOr<std::string> got = testing::GetInstance(stub.get(), uid);
    if (answered && status == STATUS_Success) {
      ++stored;
      ASSERT_TRUE(got.ok()) << "iteration " << i << ": " << got.status();
      EXPECT_TRUE(testing::SplitPart10(*got).second == dataset) << "iteration " << i;
    } else {
      answered ? ++refused : ++aborted;
      EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound)
          << "iteration " << i << " status " << status;
      if (!answered) sender.Close(/*abort=*/true);
    }
  }
  sender.Close(/*abort=*/false);
  std::cout << kIterations << " mutated data sets (seed " << kSeed << "): stored " << stored
            << ", refused with a status " << refused << ", association ended " << aborted << "\n";
  EXPECT_GT(stored + refused + aborted, 0);
  EXPECT_EQ(
      testing::RunCommand({"/usr/bin/echoscu", "-aec", "MEDVAULT", "127.0.0.1", port}).exit_code,
      0);
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace medvault
