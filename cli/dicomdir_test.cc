#include "cli/dicomdir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/testing/temp_dir.h"

namespace medvault::cli {
namespace {

const char kDicomDirTests[] = MEDVAULT_PYDICOM_TEST_FILES "/dicomdirtests";

TEST(DicomDirTest, MediumKeyIgnoresIsoVersionsCaseAndSeparators) {
  EXPECT_EQ(MediumKey("dicom/st000000/IM000001.;1"), "DICOM/ST000000/IM000001");
  EXPECT_EQ(MediumKey("DICOM\\ST000000\\IM000001"), "DICOM/ST000000/IM000001");
  EXPECT_EQ(MediumKey("./a//b/"), "A/B");
  EXPECT_EQ(MediumKey("DICOMDIR;1"), "DICOMDIR");
}

TEST(DicomDirTest, FindsTheDicomDirNearestTheRoot) {
  std::vector<MediumFile> files = {{"disc/TINY/DICOMDIR", 1},
                                   {"disc/x", 1},
                                   {"disc/dicomdir;1", 1},
                                   {"other/DICOMDIR", 1},
                                   {"disc/DICOMDIRX", 1}};
  EXPECT_EQ(FindDicomDir(files), 2u);
  EXPECT_EQ(FindDicomDir({{"IM000001", 1}}), std::nullopt);
}

TEST(DicomDirTest, PlanTakesReferencedFilesRelativeToTheDicomDir) {
  std::vector<MediumFile> files = {{"disc/DICOMDIR", 10},
                                   {"disc/DICOM/IM000001", 100},
                                   {"disc/dicom/im000002;1", 200},
                                   {"disc/README.TXT", 5},
                                   {"IM000001", 7},
                                   {"disc/DICOM/IM000003", 300}};
  std::vector<DicomDirRef> refs = {{"DICOM/IM000001", "1.2.1", "1.2"},
                                   {"DICOM/IM000002", "1.2.2", "1.2"},
                                   {"DICOM/IM000001", "1.2.1", "1.2"},  // twice: stored once
                                   {"DICOM/IM000009", "1.2.9", "1.2"}};
  ImportPlan plan = PlanFromDicomDir(files, 0, refs);
  EXPECT_TRUE(plan.from_dicomdir);
  ASSERT_EQ(plan.items.size(), 2u);
  EXPECT_EQ(plan.items[0].path, "disc/DICOM/IM000001");
  EXPECT_EQ(plan.items[0].size, 100u);
  EXPECT_EQ(plan.items[0].sop_instance_uid, "1.2.1");
  EXPECT_EQ(plan.items[0].study_uid, "1.2");
  EXPECT_EQ(plan.items[1].path, "disc/dicom/im000002;1");
  EXPECT_EQ(plan.missing, std::vector<std::string>{"DICOM/IM000009"});
  EXPECT_EQ(plan.ignored, 4u);  // the DICOMDIR, README, the root IM000001, IM000003
}

TEST(DicomDirTest, PlanTakesTheDocumentsInstancesBesideTheDicomDirUnlisted) {
  // What `medvault export` writes for a document DICOM has no class for: its file and its stored
  // instance (.DCM) under DOCUMENT/, which the DICOMDIR does not reference.
  std::vector<MediumFile> files = {{"disc/DICOMDIR", 10},
                                   {"disc/DICOM/IM000001", 100},
                                   {"disc/DOCUMENT/ST000001/SE000002/IM000001.TXT", 20},
                                   {"disc/document/st000001/se000002/im000001.dcm;1", 400},
                                   {"DOCUMENT/IM000001.DCM", 7},  // not beside the DICOMDIR
                                   {"disc/DICOM/IM000002.DCM", 8}};
  ImportPlan plan = PlanFromDicomDir(files, 0, {{"DICOM/IM000001", "1.2.1", "1.2"}});
  ASSERT_EQ(plan.items.size(), 2u);
  EXPECT_EQ(plan.items[0].path, "disc/DICOM/IM000001");
  EXPECT_FALSE(plan.items[0].unlisted);
  EXPECT_EQ(plan.items[1].path, "disc/document/st000001/se000002/im000001.dcm;1");
  EXPECT_TRUE(plan.items[1].unlisted);
  EXPECT_EQ(plan.items[1].size, 400u);
  EXPECT_TRUE(plan.items[1].sop_instance_uid.empty());
  EXPECT_TRUE(plan.missing.empty());
  EXPECT_EQ(plan.ignored, 4u);  // the DICOMDIR, the .TXT, the stray .DCM files
}

TEST(DicomDirTest, ScanTakesEverythingButDicomDirs) {
  ImportPlan plan = PlanScan({{"DICOMDIR", 1}, {"a/b", 2}, {"x/DICOMDIR", 3}});
  EXPECT_FALSE(plan.from_dicomdir);
  ASSERT_EQ(plan.items.size(), 1u);
  EXPECT_EQ(plan.items[0].path, "a/b");
  EXPECT_EQ(plan.ignored, 2u);
}

TEST(DicomDirTest, LooksLikeDicomChecksThePreamble) {
  std::string head(128, '\0');
  EXPECT_FALSE(LooksLikeDicom(head + "DIC"));
  EXPECT_TRUE(LooksLikeDicom(head + "DICM"));
  EXPECT_FALSE(LooksLikeDicom(std::string(128, 'x') + "PDF-"));
}

// pydicom's DICOMDIR: two patients, six studies, 31 images named by numbers in nested folders.
TEST(DicomDirTest, ReadsARealDicomDirAndPlansEveryImage) {
  absl::StatusOr<std::vector<DicomDirRef>> refs =
      ReadDicomDir(std::string(kDicomDirTests) + "/DICOMDIR");
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->size(), 31u);
  std::set<std::string> studies;
  for (const DicomDirRef& ref : *refs) {
    EXPECT_FALSE(ref.sop_instance_uid.empty()) << ref.file_id;
    EXPECT_FALSE(ref.study_uid.empty()) << ref.file_id;
    EXPECT_EQ(ref.file_id.find('\\'), std::string::npos) << ref.file_id;
    studies.insert(ref.study_uid);
  }
  EXPECT_EQ(studies.size(), 6u);

  std::vector<MediumFile> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kDicomDirTests)) {
    if (!e.is_regular_file()) continue;
    files.push_back(MediumFile{std::filesystem::relative(e.path(), kDicomDirTests).generic_string(),
                               e.file_size()});
  }
  std::optional<size_t> dicomdir = FindDicomDir(files);
  ASSERT_TRUE(dicomdir.has_value());
  EXPECT_EQ(files[*dicomdir].path, "DICOMDIR");
  ImportPlan plan = PlanFromDicomDir(files, *dicomdir, *refs);
  EXPECT_EQ(plan.items.size(), 31u);
  EXPECT_TRUE(plan.missing.empty());
}

TEST(DicomDirTest, RefusesAFileThatIsNotADicomDir) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/DICOMDIR";
  std::ofstream(path) << "not a DICOMDIR";
  absl::StatusOr<std::vector<DicomDirRef>> refs = ReadDicomDir(path);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kInvalidArgument) << refs.status();
  EXPECT_EQ(ReadDicomDir(dir.path() + "/none").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::cli
