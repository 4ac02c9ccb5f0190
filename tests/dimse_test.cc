// The DIMSE door (issue 16) with DICOM clients nobody here wrote: DCMTK's echoscu, storescu and
// dcmsend against the real frontend binary in a real cluster, read back through the gRPC API.
//
// "Stored as received" is checked against a reference receiver: every file is sent by the same
// DCMTK sender to DCMTK's own storescp --bit-preserving (which writes the data set's bytes as they
// came off the association) and to medvault; the data set medvault returns must equal storescp's
// byte for byte, behind a meta header naming the same transfer syntax. DCMTK's senders re-encode a
// file's data set as they send it, so the original file is not the reference.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "common/testing/temp_dir.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "tests/testing/dimse_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/part10.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::DimseTest;
using testing::ExternalCluster;
using testing::FilesIn;
using testing::GetInstance;
using testing::MetaString;
using testing::Retrieved;
using testing::RunCommand;
using testing::SplitPart10;

std::string ReadAll(const std::string& path) { return testing::ReadFileBytes(path); }

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;

// pydicom's test files DCMTK's senders cannot send, and why. The test checks that exactly these
// reach neither storescp nor medvault, so the list cannot silently grow.
const std::map<std::string, std::string> kUnsendable = {
    {"ExplVR_BigEndNoMeta.dcm", "no file meta header: dcmsend refuses it"},
    {"ExplVR_LitEndNoMeta.dcm", "no file meta header: dcmsend refuses it"},
    {"no_meta.dcm", "no file meta header: dcmsend refuses it"},
    {"rtstruct.dcm", "no file meta header: dcmsend refuses it"},
    {"empty_charset_LEI.dcm", "no valid SOP Class UID"},
    {"meta_missing_tsyntax.dcm", "no valid SOP Class UID (and no transfer syntax)"},
    {"nested_priv_SQ.dcm", "no valid SOP Class UID"},
    {"MR_truncated.dcm", "truncated pixel data: DCMTK cannot read it to send"},
    {"SC_rgb_jpeg.dcm", "deliberately corrupt element: DCMTK cannot read it to send"},
    {"rtplan_truncated.dcm", "truncated: DCMTK cannot read it to send"},
    {"UN_sequence.dcm", "no SOP Class UID in the data set: dcmsend sends nothing"},
    {"priv_SQ.dcm", "no SOP Class UID in the data set: dcmsend sends nothing"},
    {"no_meta_group_length.dcm", "no SOP Class UID in the data set: dcmsend sends nothing"},
};

// The DIMSE status in a dcmsend report (+crf), or -1.
int ReportedStatus(const std::string& report) {
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    if (!absl::ConsumePrefix(&line, "DIMSE Status  : 0x")) continue;
    int status = 0;
    if (absl::SimpleHexAtoi(line.substr(0, 4), &status)) return status;
  }
  return -1;
}

TEST_F(DimseTest, EchoAndAssociationRules) {
  CommandResult echo =
      RunCommand({"/usr/bin/echoscu", "-aet", "ECHOSCU", "-aec", "MEDVAULT", "127.0.0.1", port_});
  EXPECT_EQ(echo.exit_code, 0) << echo.err;
  // Another called AE title, and a calling AE title no rule admits from here: refused.
  CommandResult wrong_called =
      RunCommand({"/usr/bin/echoscu", "-aet", "ECHOSCU", "-aec", "OTHER", "127.0.0.1", port_});
  EXPECT_NE(wrong_called.exit_code, 0);
  EXPECT_TRUE(
      absl::StrContains(wrong_called.err + wrong_called.out, "Called AE Title Not Recognized"))
      << wrong_called.err;
  CommandResult stranger =
      RunCommand({"/usr/bin/echoscu", "-aet", "STRANGER", "-aec", "MEDVAULT", "127.0.0.1", port_});
  EXPECT_NE(stranger.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(stranger.err + stranger.out, "Calling AE Title Not Recognized"))
      << stranger.err;
  // READER holds read only: it may echo, but no storage context is accepted, so storescu fails.
  EXPECT_EQ(
      RunCommand({"/usr/bin/echoscu", "-aet", "READER", "-aec", "MEDVAULT", "127.0.0.1", port_})
          .exit_code,
      0);
  CommandResult reader_store =
      RunCommand({"/usr/bin/storescu", "-aet", "READER", "-aec", "MEDVAULT", "127.0.0.1", port_,
                  kFiles + "/CT_small.dcm"});
  EXPECT_NE(reader_store.exit_code, 0);

  // storescu stores a file in implicit VR little endian (-xi: the only syntax it proposes); it
  // reads back with the request's UIDs and that transfer syntax in its meta header.
  CommandResult store = RunCommand({"/usr/bin/storescu", "-xi", "-aet", "STORESCU", "-aec",
                                    "MEDVAULT", "127.0.0.1", port_, kFiles + "/CT_small.dcm"});
  EXPECT_EQ(store.exit_code, 0) << store.err;
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  OFString uid;
  ct.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  absl::StatusOr<std::string> got = GetInstance(stub_.get(), uid.c_str());
  ASSERT_TRUE(got.ok()) << got.status();
  auto [header, dataset] = SplitPart10(*got);
  ASSERT_FALSE(header.empty());
  EXPECT_EQ(MetaString(header, DCM_MediaStorageSOPInstanceUID), uid.c_str());
  EXPECT_EQ(MetaString(header, DCM_MediaStorageSOPClassUID), UID_CTImageStorage);
  EXPECT_EQ(MetaString(header, DCM_SourceApplicationEntityTitle), "STORESCU");
  EXPECT_EQ(MetaString(header, DCM_TransferSyntaxUID), UID_LittleEndianImplicitTransferSyntax);
  // DCMTK reads the returned file whole, with the UID in its data set.
  const std::string back_path = tmp_.path() + "/back.dcm";
  std::ofstream(back_path, std::ios::binary) << *got;
  DcmFileFormat back;
  ASSERT_TRUE(back.loadFile(back_path.c_str()).good());
  OFString back_uid;
  back.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, back_uid);
  EXPECT_EQ(back_uid, uid);

  // Every access is audited with the calling AE title and the peer's address; no UID is logged.
  const std::string log = FrontendLog();
  EXPECT_TRUE(absl::StrContains(
      log,
      "audit op=dimse-store service=frontend caller=dicom/STORESCU peer=127.0.0.1 "
      "status=0x0000"));
  EXPECT_TRUE(absl::StrContains(log,
                                "audit op=dimse-associate service=frontend "
                                "caller=dicom/ECHOSCU peer=127.0.0.1"));
  EXPECT_TRUE(absl::StrContains(
      log, "audit op=deny service=frontend method=A-ASSOCIATE caller=dicom/STRANGER"));
  EXPECT_FALSE(absl::StrContains(log, uid.c_str()));
  EXPECT_TRUE(cluster_->Stop().ok());
}

TEST_F(DimseTest, EveryPydicomFileIsStoredAsReceivedAndReadsBackByteExact) {
  const std::string ref_dir = tmp_.path() + "/ref";
  fs::create_directories(ref_dir);
  StartReferenceScp(ref_dir);
  struct Stored {
    std::string dataset;  // as storescp received it
    std::string transfer_syntax;
    std::string file;
  };
  std::map<std::string, Stored> first;  // SOP Instance UID -> the first file stored under it
  std::set<std::string> unsendable;
  int conflicts = 0, identical_resends = 0, unreadable = 0, mismatched = 0;
  std::set<std::string> on_the_wire;  // transfer syntaxes of data sets medvault parsed whole
  for (const std::string& path : FilesIn(kFiles)) {
    if (!absl::EndsWith(path, ".dcm")) continue;
    const std::string name = fs::path(path).filename().string();
    for (const std::string& f : FilesIn(ref_dir)) fs::remove(f);
    // --decompress-never: every file goes in its own transfer syntax (JPEG, JPEG-LS, JPEG 2000,
    // RLE, deflated, both endians, implicit), on a context proposed for it.
    RunCommand({"/usr/bin/dcmsend", "-aet", "DCMSEND", "-aec", "REF", "--decompress-never",
                "127.0.0.1", ref_port_, path});
    std::vector<std::string> received = FilesIn(ref_dir);
    const std::string report = tmp_.path() + "/report.txt";
    fs::remove(report);
    RunCommand({"/usr/bin/dcmsend", "-aet", "DCMSEND", "-aec", "MEDVAULT", "--decompress-never",
                "+crf", report, "127.0.0.1", port_, path});
    const int status = ReportedStatus(ReadAll(report));
    if (received.empty()) {
      unsendable.insert(name);
      EXPECT_EQ(status, -1) << name << ": sent to medvault but not to storescp";
      continue;
    }
    ASSERT_EQ(received.size(), 1u) << name;
    auto [ref_header, ref_dataset] = SplitPart10(ReadAll(received[0]));
    ASSERT_FALSE(ref_header.empty()) << name;
    const std::string uid = MetaString(ref_header, DCM_MediaStorageSOPInstanceUID);
    const std::string ts = MetaString(ref_header, DCM_TransferSyntaxUID);
    if (status == 0xC000) {
      // Not readable by medvault's parser: the gRPC API refuses the same bytes the same way.
      absl::StatusOr<v1::PutInstanceResponse> put =
          testing::PutInstance(stub_.get(), ReadAll(received[0]));
      EXPECT_EQ(put.status().code(), absl::StatusCode::kInvalidArgument) << name;
      ++unreadable;
      continue;
    }
    if (status == 0xA900) {
      // The request names another instance than medvault reads from the data set: pydicom's
      // RLE RT Dose files encode their attributes with VR UN, so the SOP Instance UID DCMTK
      // reads from the data set is not the text the meta header (and so dcmsend's request)
      // carries. Refused before anything is written: filing the bytes under either would be
      // wrong.
      DcmFileFormat ref;
      ASSERT_TRUE(ref.loadFile(received[0].c_str()).good()) << name;
      DcmElement* sop_uid = nullptr;
      ASSERT_TRUE(ref.getDataset()->findAndGetElement(DCM_SOPInstanceUID, sop_uid).good());
      EXPECT_EQ(sop_uid->getVR(), EVR_UN) << name;
      EXPECT_EQ(GetInstance(stub_.get(), uid).status().code(), absl::StatusCode::kNotFound);
      ++mismatched;
      continue;
    }
    on_the_wire.insert(ts);
    auto it = first.find(uid);
    if (it == first.end()) {
      EXPECT_EQ(status, 0x0000) << name;
      if (status == 0) first[uid] = Stored{ref_dataset, ts, name};
    } else if (it->second.dataset == ref_dataset) {
      EXPECT_EQ(status, 0x0000) << name << " resends " << it->second.file;
      ++identical_resends;
    } else {
      // pydicom ships several encodings of one SOP Instance UID: the first stays, unchanged.
      EXPECT_EQ(status, 0x0111) << name << " conflicts with " << it->second.file;
      ++conflicts;
    }
  }
  std::set<std::string> expected_unsendable;
  for (const auto& [name, why] : kUnsendable) expected_unsendable.insert(name);
  EXPECT_EQ(unsendable, expected_unsendable);
  std::cout << "stored " << first.size() << ", conflicting " << conflicts << ", identical resends "
            << identical_resends << ", unreadable " << unreadable << ", request and data set "
            << "disagree " << mismatched << "\n";
  EXPECT_GE(first.size(), 30u);
  EXPECT_GT(conflicts, 0);

  // No log line of the frontend carries a stored UID.
  const std::string log = FrontendLog();
  for (const auto& [uid, stored] : first) EXPECT_FALSE(absl::StrContains(log, uid)) << stored.file;

  std::set<std::string> transfer_syntaxes;
  for (const auto& [uid, stored] : first) {
    absl::StatusOr<std::string> got = GetInstance(stub_.get(), uid);
    ASSERT_TRUE(got.ok()) << stored.file << ": " << got.status();
    auto [header, dataset] = SplitPart10(*got);
    ASSERT_FALSE(header.empty()) << stored.file;
    EXPECT_EQ(MetaString(header, DCM_TransferSyntaxUID), stored.transfer_syntax) << stored.file;
    EXPECT_EQ(MetaString(header, DCM_MediaStorageSOPInstanceUID), uid) << stored.file;
    EXPECT_TRUE(dataset == stored.dataset)
        << stored.file << ": the data set differs from what "
        << "storescp received (" << dataset.size() << " vs " << stored.dataset.size() << " bytes)";
    transfer_syntaxes.insert(stored.transfer_syntax);
  }
  // The encodings the set covers on the wire (each parsed whole by medvault), and those stored
  // (the rest are re-encodings of an instance already stored in another one: pydicom's RLE and
  // JPEG-LS files are all re-encodings). dcmsend proposes
  // each file's own syntax beside the uncompressed ones, and medvault prefers explicit little
  // endian among those, so implicit and big endian files travel as explicit little endian here
  // (implicit is covered by EchoAndAssociationRules).
  for (const char* ts :
       {UID_LittleEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
        UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
        UID_JPEGProcess14SV1TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
        UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
        UID_RLELosslessTransferSyntax}) {
    EXPECT_TRUE(on_the_wire.count(ts)) << ts;
  }
  for (const char* ts :
       {UID_LittleEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
        UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
        UID_JPEGProcess14SV1TransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax,
        UID_JPEG2000TransferSyntax}) {
    EXPECT_TRUE(transfer_syntaxes.count(ts)) << ts;
  }
  EXPECT_TRUE(cluster_->Stop().ok());
}

// The values DCMTK reads from a file's data set, by tag.
std::string FileValue(const std::string& path, const DcmTagKey& tag) {
  DcmFileFormat ff;
  if (ff.loadFile(path.c_str()).bad()) return "<unreadable>";
  OFString v;
  ff.getDataset()->findAndGetOFStringArray(tag, v);
  return v.c_str();
}

// findscu's answers (-X: one file per pending response), read back with DCMTK.
std::vector<std::map<DcmTagKey, std::string>> Findscu(const std::string& dir,
                                                      const std::string& port, bool patient_root,
                                                      const std::vector<std::string>& keys) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::string> argv = {"/usr/bin/findscu",
                                   patient_root ? "-P" : "-S",
                                   "-aet",
                                   "FINDSCU",
                                   "-aec",
                                   "MEDVAULT",
                                   "-X",
                                   "-od",
                                   dir};
  CommandResult r = testing::RunScu(std::move(argv), keys, port);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::map<DcmTagKey, std::string>> out;
  for (const std::string& f : FilesIn(dir)) {
    DcmFileFormat ff;
    EXPECT_TRUE(ff.loadFile(f.c_str()).good()) << f;
    std::map<DcmTagKey, std::string> answer;
    DcmDataset* ds = ff.getDataset();
    for (unsigned long i = 0; i < ds->card(); ++i) {
      OFString v;
      ds->getElement(i)->getOFStringArray(v);
      answer[ds->getElement(i)->getTag()] = v.c_str();
    }
    out.push_back(std::move(answer));
  }
  return out;
}

TEST_F(DimseTest, FindscuIsAnsweredFromTheIndexAttributeByAttribute) {
  const std::string ct = kFiles + "/CT_small.dcm", mr = kFiles + "/MR_small.dcm";
  CommandResult sent = RunCommand(
      {"/usr/bin/dcmsend", "-aet", "DCMSEND", "-aec", "MEDVAULT", "127.0.0.1", port_, ct, mr});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const std::string dir = tmp_.path() + "/find";
  auto v = [](const std::string& file, const DcmTagKey& tag) { return FileValue(file, tag); };

  // Study Root, STUDY level, by patient id: every return key as the file has it, or the count.
  auto studies =
      Findscu(dir, port_, false,
              {"QueryRetrieveLevel=STUDY", "PatientID=" + v(ct, DCM_PatientID), "StudyInstanceUID",
               "PatientName", "PatientBirthDate", "StudyDate", "StudyTime", "AccessionNumber",
               "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
               "NumberOfStudyRelatedInstances", "StudyID"});
  ASSERT_EQ(studies.size(), 1u);
  auto& st = studies[0];
  for (const DcmTagKey& tag :
       {DCM_PatientID, DCM_StudyInstanceUID, DCM_PatientName, DCM_PatientBirthDate, DCM_StudyDate,
        DCM_StudyTime, DCM_AccessionNumber, DCM_StudyDescription}) {
    EXPECT_EQ(st[tag], v(ct, tag)) << DcmTag(tag).getTagName();
  }
  EXPECT_EQ(st[DCM_ModalitiesInStudy], v(ct, DCM_Modality));
  EXPECT_EQ(st[DCM_NumberOfStudyRelatedSeries], "1");
  EXPECT_EQ(st[DCM_NumberOfStudyRelatedInstances], "1");
  EXPECT_EQ(st[DCM_QueryRetrieveLevel], "STUDY");
  EXPECT_TRUE(st.count(DCM_StudyID) == 1 && st[DCM_StudyID].empty());  // not indexed: empty

  // Universal, wildcard, range and UID-list matching.
  EXPECT_EQ(Findscu(dir, port_, false, {"QueryRetrieveLevel=STUDY", "StudyInstanceUID"}).size(),
            2u);
  const std::string ct_name = v(ct, DCM_PatientName);  // "CompressedSamples^CT1": "*CT?"
  ASSERT_GE(ct_name.size(), 3u);
  EXPECT_EQ(Findscu(dir, port_, false,
                    {"QueryRetrieveLevel=STUDY",
                     "PatientName=*" + ct_name.substr(ct_name.size() - 3, 2) + "?"})
                .size(),
            1u);
  const std::string ct_date = v(ct, DCM_StudyDate);
  ASSERT_NE(ct_date, v(mr, DCM_StudyDate));
  auto by_date = Findscu(
      dir, port_, false,
      {"QueryRetrieveLevel=STUDY", "StudyDate=" + ct_date + "-" + ct_date, "StudyInstanceUID"});
  ASSERT_EQ(by_date.size(), 1u);
  EXPECT_EQ(by_date[0][DCM_StudyInstanceUID], v(ct, DCM_StudyInstanceUID));
  EXPECT_EQ(Findscu(dir, port_, false,
                    {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + v(ct, DCM_StudyInstanceUID) +
                                                     "\\" + v(mr, DCM_StudyInstanceUID)})
                .size(),
            2u);
  EXPECT_EQ(Findscu(dir, port_, false, {"QueryRetrieveLevel=STUDY", "ModalitiesInStudy=MR"}).size(),
            1u);

  // SERIES and IMAGE levels under the MR study.
  auto series =
      Findscu(dir, port_, false,
              {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + v(mr, DCM_StudyInstanceUID),
               "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances"});
  ASSERT_EQ(series.size(), 1u);
  for (const DcmTagKey& tag :
       {DCM_SeriesInstanceUID, DCM_Modality, DCM_SeriesNumber, DCM_SeriesDescription}) {
    EXPECT_EQ(series[0][tag], v(mr, tag)) << DcmTag(tag).getTagName();
  }
  EXPECT_EQ(series[0][DCM_NumberOfSeriesRelatedInstances], "1");
  auto images =
      Findscu(dir, port_, false,
              {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + v(mr, DCM_StudyInstanceUID),
               "SeriesInstanceUID=" + v(mr, DCM_SeriesInstanceUID), "SOPInstanceUID", "SOPClassUID",
               "InstanceNumber"});
  ASSERT_EQ(images.size(), 1u);
  for (const DcmTagKey& tag : {DCM_SOPInstanceUID, DCM_SOPClassUID, DCM_InstanceNumber}) {
    EXPECT_EQ(images[0][tag], v(mr, tag)) << DcmTag(tag).getTagName();
  }

  // Patient Root, PATIENT level.
  auto patients =
      Findscu(dir, port_, true,
              {"QueryRetrieveLevel=PATIENT", "PatientID=" + v(mr, DCM_PatientID), "PatientName",
               "PatientSex", "NumberOfPatientRelatedStudies", "NumberOfPatientRelatedInstances"});
  ASSERT_EQ(patients.size(), 1u);
  EXPECT_EQ(patients[0][DCM_PatientName], v(mr, DCM_PatientName));
  EXPECT_EQ(patients[0][DCM_PatientSex], v(mr, DCM_PatientSex));
  EXPECT_EQ(patients[0][DCM_NumberOfPatientRelatedStudies], "1");
  EXPECT_EQ(patients[0][DCM_NumberOfPatientRelatedInstances], "1");

  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "audit op=dimse-find service=frontend "
                                "caller=dicom/FINDSCU peer=127.0.0.1 status=0x0000"));
  EXPECT_TRUE(cluster_->Stop().ok());
}

// SERIES and IMAGE levels over real files of six studies (CT, MR, RT dose with 15 frames and no
// instance number, NM in JPEG 2000, RLE secondary capture with 2 frames, an SR without pixels),
// answered from the index's series and instance rows: every return key as DCMTK reads it in the
// file sent. Lists of series or SOP Instance UIDs without a study UID select across studies.
TEST_F(DimseTest, FindscuSeriesAndImageLevelsMatchTheFilesAttributeByAttribute) {
  std::vector<std::string> files;
  for (const char* name : {"CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "JPEG2000.dcm",
                           "SC_rgb_rle_2frame.dcm", "reportsi.dcm"}) {
    files.push_back(kFiles + "/" + name);
  }
  std::vector<std::string> send = {"/usr/bin/dcmsend", "-aet",      "DCMSEND", "-aec",
                                   "MEDVAULT",         "127.0.0.1", port_};
  send.insert(send.end(), files.begin(), files.end());
  CommandResult sent = RunCommand(send);
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const std::string dir = tmp_.path() + "/find-levels";
  std::vector<std::string> series_uids, sop_uids;
  for (const std::string& f : files) {
    series_uids.push_back(FileValue(f, DCM_SeriesInstanceUID));
    sop_uids.push_back(FileValue(f, DCM_SOPInstanceUID));
  }
  // The answer whose `key` is the file's, checked on every tag.
  auto check = [&](const std::vector<std::map<DcmTagKey, std::string>>& answers,
                   const DcmTagKey& key, const std::vector<DcmTagKey>& tags) {
    for (const std::string& f : files) {
      const auto it = std::find_if(answers.begin(), answers.end(), [&](const auto& a) {
        return a.count(key) && a.at(key) == FileValue(f, key);
      });
      ASSERT_NE(it, answers.end()) << f;
      for (const DcmTagKey& tag : tags) {
        ASSERT_EQ(it->count(tag), 1u) << f << " " << DcmTag(tag).getTagName();
        EXPECT_EQ(it->at(tag), FileValue(f, tag)) << f << " " << DcmTag(tag).getTagName();
      }
    }
  };

  // SERIES, Study Root, by the list of series UIDs alone.
  auto series =
      Findscu(dir, port_, false,
              {"QueryRetrieveLevel=SERIES", "SeriesInstanceUID=" + absl::StrJoin(series_uids, "\\"),
               "StudyInstanceUID", "PatientID", "StudyDate", "Modality", "SeriesNumber",
               "SeriesDescription", "NumberOfSeriesRelatedInstances"});
  ASSERT_EQ(series.size(), files.size());
  check(series, DCM_SeriesInstanceUID,
        {DCM_StudyInstanceUID, DCM_PatientID, DCM_StudyDate, DCM_Modality, DCM_SeriesNumber,
         DCM_SeriesDescription});
  for (auto& a : series) EXPECT_EQ(a[DCM_NumberOfSeriesRelatedInstances], "1");
  // Wildcard and single-value matching on series attributes, over every series.
  auto r_modalities = Findscu(dir, port_, false, {"QueryRetrieveLevel=SERIES", "Modality=*R"});
  std::multiset<std::string> modalities;
  for (auto& a : r_modalities) modalities.insert(a[DCM_Modality]);
  EXPECT_EQ(modalities, (std::multiset<std::string>{"MR", "SR"}));
  EXPECT_EQ(Findscu(dir, port_, false,
                    {"QueryRetrieveLevel=SERIES", "Modality=RTDOSE", "SeriesInstanceUID"})
                .size(),
            1u);

  // IMAGE, Patient Root, by the list of SOP Instance UIDs alone: the image keys and those of the
  // series and study above.
  auto images = Findscu(
      dir, port_, true,
      {"QueryRetrieveLevel=IMAGE", "SOPInstanceUID=" + absl::StrJoin(sop_uids, "\\"), "SOPClassUID",
       "InstanceNumber", "NumberOfFrames", "Rows", "Columns", "BitsAllocated", "SeriesInstanceUID",
       "Modality", "StudyInstanceUID", "PatientName"});
  ASSERT_EQ(images.size(), files.size());
  check(images, DCM_SOPInstanceUID,
        {DCM_SOPClassUID, DCM_InstanceNumber, DCM_NumberOfFrames, DCM_Rows, DCM_Columns,
         DCM_BitsAllocated, DCM_SeriesInstanceUID, DCM_Modality, DCM_StudyInstanceUID,
         DCM_PatientName});
  // Under one series: InstanceNumber matched exactly, then a SOP Class UID list.
  const std::string nm_series = "SeriesInstanceUID=" + series_uids[3];
  EXPECT_EQ(Findscu(dir, port_, false,
                    {"QueryRetrieveLevel=IMAGE", nm_series, "InstanceNumber=3", "SOPInstanceUID"})
                .size(),
            1u);
  EXPECT_EQ(Findscu(dir, port_, false,
                    {"QueryRetrieveLevel=IMAGE", nm_series, "InstanceNumber=1", "SOPInstanceUID"})
                .size(),
            0u);
  auto by_class = Findscu(dir, port_, false,
                          {"QueryRetrieveLevel=IMAGE",
                           "SOPClassUID=" + FileValue(files[0], DCM_SOPClassUID) + "\\" +
                               FileValue(files[2], DCM_SOPClassUID),
                           "SOPInstanceUID"});
  ASSERT_EQ(by_class.size(), 2u);
  EXPECT_TRUE(cluster_->Stop().ok());
}

// A C-STORE whose association is aborted halfway through the data set: the instance never
// becomes visible, and sending it whole afterwards succeeds. The sender is DCMTK's dcmnet driven
// from here, because no DCMTK tool aborts on request.
TEST_F(DimseTest, AnAssociationAbortedMidInstanceLeavesNothingVisible) {
  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile((kFiles + "/CT_small.dcm").c_str()).good());
  DcmDataset* ds = ff.getDataset();
  ASSERT_TRUE(ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
  // 4 MiB in a private element after the UIDs, so the put places and writes chunks before the
  // abort.
  const std::string uid = "1.2.826.0.1.3680043.8.498.1616161616";
  ds->putAndInsertString(DCM_SOPInstanceUID, uid.c_str());
  ds->putAndInsertString(DcmTagKey(0x0099, 0x0010), "MEDVAULT TEST");
  std::vector<Uint8> big(4 << 20, 0x5a);
  DcmTag big_tag(0x0099, 0x1000, EVR_OB);
  ASSERT_TRUE(ds->putAndInsertUint8Array(big_tag, big.data(), big.size()).good());

  auto send = [&](bool abort_midway) -> OFCondition {
    T_ASC_Network* net = nullptr;
    OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, 30, &net);
    T_ASC_Parameters* params = nullptr;
    if (c.good()) c = ASC_createAssociationParameters(&params, 16384);
    if (c.good()) c = ASC_setAPTitles(params, "ABORTER", "MEDVAULT", nullptr);
    if (c.good())
      c = ASC_setPresentationAddresses(params, "localhost", ("127.0.0.1:" + port_).c_str());
    const char* ts[] = {UID_LittleEndianExplicitTransferSyntax};
    if (c.good()) c = ASC_addPresentationContext(params, 1, UID_CTImageStorage, ts, 1);
    T_ASC_Association* assoc = nullptr;
    if (c.good()) c = ASC_requestAssociation(net, params, &assoc);
    if (c.bad()) return c;
    T_DIMSE_Message msg{};
    msg.CommandField = DIMSE_C_STORE_RQ;
    T_DIMSE_C_StoreRQ& req = msg.msg.CStoreRQ;
    req.MessageID = 1;
    OFStandard::strlcpy(req.AffectedSOPClassUID, UID_CTImageStorage,
                        sizeof(req.AffectedSOPClassUID));
    OFStandard::strlcpy(req.AffectedSOPInstanceUID, uid.c_str(),
                        sizeof(req.AffectedSOPInstanceUID));
    req.DataSetType = DIMSE_DATASET_PRESENT;
    req.Priority = DIMSE_PRIORITY_MEDIUM;
    struct Ctx {
      T_ASC_Association* assoc;
      bool abort;
      bool aborted = false;
    } ctx{assoc, abort_midway};
    c = DIMSE_sendMessageUsingMemoryData(
        assoc, 1, &msg, nullptr, ds,
        [](void* p, unsigned long bytes) {
          auto* ctx = static_cast<Ctx*>(p);
          if (ctx->abort && !ctx->aborted && bytes > (1u << 20)) {
            ctx->aborted = true;
            ASC_abortAssociation(ctx->assoc);
          }
        },
        &ctx);
    if (c.good() && !abort_midway) {
      T_ASC_PresentationContextID pres_id;
      T_DIMSE_Message rsp{};
      DcmDataset* detail = nullptr;
      c = DIMSE_receiveCommand(assoc, DIMSE_BLOCKING, 0, &pres_id, &rsp, &detail);
      delete detail;
      if (c.good() && rsp.msg.CStoreRSP.DimseStatus != STATUS_Success) c = DIMSE_BADMESSAGE;
      if (c.good()) c = ASC_releaseAssociation(assoc);
    }
    if (ctx.aborted) c = DUL_PEERABORTEDASSOCIATION;  // what the test asked for
    ASC_destroyAssociation(&assoc);
    ASC_dropNetwork(&net);
    return c;
  };

  EXPECT_EQ(send(true), DUL_PEERABORTEDASSOCIATION);
  // The frontend saw the data set end early (its counter of aborted C-STOREs), ...
  const std::string aborted =
      "medvault_frontend_dimse_requests_total{command=\"C-STORE\",status=\"0xFFFF\"}";
  for (int i = 0; i < 600 && Metric(aborted) < 1; ++i) {
    RunCommand(
        {"/usr/bin/echoscu", "-aec", "MEDVAULT", "127.0.0.1", port_});  // a round trip between
  }
  EXPECT_EQ(Metric(aborted), 1);
  // ... and nothing of it is visible.
  absl::StatusOr<std::string> got = GetInstance(stub_.get(), uid);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
  // Sent whole, it is stored.
  EXPECT_TRUE(send(false).good());
  got = GetInstance(stub_.get(), uid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_GT(got->size(), big.size());
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault