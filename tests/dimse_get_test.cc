// The DIMSE door's C-GET (issue 16) with DCMTK's getscu against the real frontend binary in a
// real cluster (the fixture is tests/testing/dimse_fixture.h, shared with tests/dimse_test.cc).
#include <filesystem>
#include <map>
#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "tests/testing/dimse_fixture.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/part10.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::DimseTest;
using testing::Retrieved;
using testing::RunScu;
using testing::SplitPart10;

const std::string kFiles = MEDVAULT_PYDICOM_TEST_FILES;

// A Part 10 file written by DCMTK from `source` with new Study/Series/SOP Instance UIDs, in the
// source's own transfer syntax (pixel data left encoded): the bytes a test stores and expects
// back.
std::string Variant(const std::string& source, const std::string& study, const std::string& series,
                    const std::string& sop, const std::string& out_path) {
  DcmFileFormat ff;
  EXPECT_TRUE(ff.loadFile(source.c_str()).good()) << source;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, series.c_str());
  ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
  ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop.c_str());
  EXPECT_TRUE(ff.saveFile(out_path.c_str(), ds->getOriginalXfer()).good()) << out_path;
  return testing::ReadFileBytes(out_path);
}

// Runs getscu (Study Root unless `patient_root`, bit-preserving) into a fresh `dir`.
CommandResult Getscu(const std::string& dir, const std::string& port, const std::string& aet,
                     const std::vector<std::string>& keys, bool patient_root = false,
                     const std::string& option = "-v") {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::string> argv = {"/usr/bin/getscu",
                                   patient_root ? "-P" : "-S",
                                   option,
                                   "-aet",
                                   aet,
                                   "-aec",
                                   "MEDVAULT",
                                   "+B",
                                   "-od",
                                   dir};
  return RunScu(std::move(argv), keys, port);
}

// C-GET at study, series and instance level with DCMTK's getscu: every instance comes back with
// the stored data set byte for byte (getscu writes its own meta header, so data sets are
// compared); an instance whose stored transfer syntax getscu did not propose is a failed
// sub-operation (no transcoding), reported with B000 and the Failed SOP Instance UID List.
TEST_F(DimseTest, GetscuRetrievesStudySeriesAndInstanceByteExact) {
  const std::string study = "1.2.826.0.1.3680043.8.498.77001";
  const std::string series_a = study + ".1", series_b = study + ".2";
  struct File {
    std::string uid, dataset;
  };
  std::vector<File> files;
  int n = 0;
  auto add = [&](const std::string& source, const std::string& series) {
    const std::string uid = series + "." + std::to_string(++n);
    const std::string path = tmp_.path() + "/in" + std::to_string(n) + ".dcm";
    const std::string bytes = Variant(kFiles + "/" + source, study, series, uid, path);
    absl::StatusOr<v1::PutInstanceResponse> put = testing::PutInstance(stub_.get(), bytes);
    EXPECT_TRUE(put.ok()) << source << ": " << put.status();
    files.push_back(File{uid, SplitPart10(bytes).second});
  };
  add("CT_small.dcm", series_a);    // explicit VR little endian, spans chunks
  add("MR_small.dcm", series_a);    // explicit VR little endian, another SOP class
  add("CT_small.dcm", series_b);    //
  add("JPEG-lossy.dcm", series_b);  // JPEG: getscu proposes uncompressed syntaxes only
  ASSERT_EQ(files.size(), 4u);
  for (const File& f : files) ASSERT_GT(f.dataset.size(), 1000u);
  const std::string dir = tmp_.path() + "/get";

  // STUDY: the three uncompressed instances, byte-exact; the JPEG one failed.
  CommandResult got =
      Getscu(dir, port_, "GETSCU", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study},
             /*patient_root=*/false, "-d");
  std::map<std::string, std::string> back = Retrieved(dir);
  ASSERT_EQ(back.size(), 3u) << got.out << got.err;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(back.count(files[i].uid), 1u) << i;
    EXPECT_TRUE(back[files[i].uid] == files[i].dataset)
        << "instance " << i << ": " << back[files[i].uid].size() << " vs "
        << files[i].dataset.size() << " bytes";
  }
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "audit op=dimse-get service=frontend caller=dicom/GETSCU "
                                "peer=127.0.0.1 status=0xB000 completed=3 failed=1 warning=0"));
  // The final response counts the failure (getscu 3.6.7 does not read the identifier that carries
  // the Failed SOP Instance UID List: it then reports "P-Data PDU arrived" at release).
  EXPECT_TRUE(absl::StrContains(got.out + got.err, "Number of Failed Suboperations    : 1"))
      << got.out << got.err;
  // The study is one set retrieval: the key service recorded ONE release naming the three
  // objects getscu accepted a context for, not one each, and none for the JPEG one: its
  // sub-operation fails before it is read, so its key is never released.
  auto releases_of = [&](const File& f) {
    absl::StatusOr<std::vector<v1::AuditRecord>> releases =
        testing::KeyReleasesOf(*cluster_, f.uid);
    EXPECT_TRUE(releases.ok()) << releases.status();
    return releases.ok() ? *releases : std::vector<v1::AuditRecord>();
  };
  for (int i = 0; i < 3; ++i) {
    const std::vector<v1::AuditRecord> releases = releases_of(files[i]);
    ASSERT_EQ(releases.size(), 1u) << i;
    EXPECT_EQ(releases[0].object_ids_size(), 3);
    EXPECT_EQ(releases[0].purpose(), "C-GET");
    EXPECT_EQ(releases[0].on_behalf_of(), "dicom/GETSCU@127.0.0.1");
  }
  EXPECT_TRUE(releases_of(files[3]).empty());

  // SERIES: with getscu preferring JPEG 12 bit (so medvault accepts that syntax for every
  // storage context), the JPEG instance comes back unchanged and the CT one fails.
  got = Getscu(
      dir, port_, "GETSCU",
      {"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + study, "SeriesInstanceUID=" + series_b},
      /*patient_root=*/false, "+xx");
  back = Retrieved(dir);
  ASSERT_EQ(back.size(), 1u) << got.out << got.err;
  EXPECT_TRUE(back[files[3].uid] == files[3].dataset);
  EXPECT_TRUE(absl::StrContains(FrontendLog(), "status=0xB000 completed=1 failed=1"));
  // Only the JPEG instance's key was released this time: the CT one had no context.
  const std::vector<v1::AuditRecord> jpeg_releases = releases_of(files[3]);
  ASSERT_EQ(jpeg_releases.size(), 1u);
  EXPECT_EQ(jpeg_releases[0].object_ids_size(), 1);
  EXPECT_EQ(releases_of(files[2]).size(), 1u);
  // IMAGE, in Patient Root, by a list of two UIDs.
  got = Getscu(dir, port_, "GETSCU",
               {"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + study,
                "SeriesInstanceUID=" + series_a, "SOPInstanceUID=" + files[1].uid},
               /*patient_root=*/true);
  back = Retrieved(dir);
  ASSERT_EQ(back.size(), 1u) << got.out << got.err;
  EXPECT_TRUE(back[files[1].uid] == files[1].dataset);
  EXPECT_TRUE(absl::StrContains(FrontendLog(),
                                "caller=dicom/GETSCU peer=127.0.0.1 status=0x0000 completed=1 "
                                "failed=0 warning=0"));
  // GETSCU holds read only and retrieved above; ABORTER holds write only: no C-GET context is
  // accepted for it, and nothing arrives.
  got = Getscu(dir, port_, "ABORTER", {"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + study});
  EXPECT_NE(got.exit_code, 0);
  EXPECT_TRUE(Retrieved(dir).empty());
  // No UID in the frontend's log.
  const std::string log = FrontendLog();
  for (const File& f : files) EXPECT_FALSE(absl::StrContains(log, f.uid));
  EXPECT_TRUE(cluster_->Stop().ok());
}

}  // namespace
}  // namespace medvault