// Issue 19's export with the real binaries: three studies of pydicom's files (one in JPEG 2000)
// exported by `medvault export` as a folder, a ZIP file and an ISO 9660 image. DCMTK's dcmdump
// reads the DICOMDIR and every file it references; dicom3tools' dciodvfy finds no error in the
// DICOMDIR; the folder's files are byte-identical to what was stored; xorriso lists the ISO's
// ISO 9660 names; `medvault import` of each medium stores nothing new (every instance is found
// already stored, PutInstance is not called); INDEX.HTM opens from file:// in Debian's headless
// Chromium (a screenshot is kept in the build tree) and loads nothing from elsewhere. Bad
// requests: an unknown study and a folder that is not empty are refused, exit 1.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/testing/file_scan.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdicdir.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/cli_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::Attribute;
using testing::Cli;
using testing::ExternalCluster;
using testing::PutCalls;

const std::string kPydicom = MEDVAULT_PYDICOM_TEST_FILES;

// The Referenced File IDs of the DICOMDIR's leaf records, '/'-separated.
std::vector<std::string> ReferencedFiles(const std::string& dicomdir_path) {
  DcmDicomDir dicomdir(dicomdir_path.c_str());
  std::vector<std::string> ids;
  std::vector<DcmDirectoryRecord*> stack = {&dicomdir.getRootRecord()};
  while (!stack.empty()) {
    DcmDirectoryRecord* record = stack.back();
    stack.pop_back();
    OFString id;
    if (record->findAndGetOFStringArray(DCM_ReferencedFileID, id).good()) {
      ids.push_back(absl::StrReplaceAll(id.c_str(), {{"\\", "/"}}));
    }
    for (DcmDirectoryRecord* sub = nullptr; (sub = record->nextSub(sub)) != nullptr;) {
      stack.push_back(sub);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ExportTest, StudiesAsFolderZipAndIsoReadableByDcmtkAndImportedBackUnchanged) {
  ExternalCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  const std::string root = cluster.root();
  const std::vector<std::string> names = {"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"};
  std::map<std::string, std::string> originals;  // SOP Instance UID -> bytes
  std::vector<std::string> studies;
  for (const std::string& name : names) {
    const std::string path = kPydicom + "/" + name;
    testing::CommandResult put = Cli(cluster, {"put", path});
    ASSERT_EQ(put.exit_code, 0) << put.err;
    originals[Attribute(path, DCM_SOPInstanceUID)] = testing::ReadWholeFile(path);
    studies.push_back(Attribute(path, DCM_StudyInstanceUID));
  }
  std::vector<std::string> study_args;
  for (const std::string& s : studies) study_args.insert(study_args.end(), {"--study", s});
  auto export_to = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"export", "--out", out};
    args.insert(args.end(), study_args.begin(), study_args.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(cluster, args);
  };

  // A folder.
  const std::string disc = root + "/disc";
  testing::CommandResult exported = export_to(disc, {});
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "export: 3 instances")) << exported.out;
  EXPECT_TRUE(absl::StrContains(exported.out, "STD-GEN-DVD-J2K")) << exported.out;
  EXPECT_FALSE(absl::StrContains(exported.err, "\r")) << exported.err;  // not a terminal: no bar

  const std::vector<std::string> referenced = ReferencedFiles(disc + "/DICOMDIR");
  EXPECT_EQ(referenced, (std::vector<std::string>{"DICOM/ST000001/SE000001/IM000001",
                                                  "DICOM/ST000002/SE000001/IM000001",
                                                  "DICOM/ST000003/SE000001/IM000001"}));
  testing::CommandResult dump = testing::RunCommand({"/usr/bin/dcmdump", disc + "/DICOMDIR"});
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_TRUE(absl::StrContains(dump.out, "DirectoryRecordSequence")) << dump.out;
  std::set<std::string> seen;
  for (const std::string& id : referenced) {
    const std::string file = disc + "/" + id;
    testing::CommandResult one = testing::RunCommand({"/usr/bin/dcmdump", "-q", file});
    EXPECT_EQ(one.exit_code, 0) << id << one.err;
    const std::string uid = Attribute(file, DCM_SOPInstanceUID);
    seen.insert(uid);
    EXPECT_TRUE(testing::ReadWholeFile(file) == originals[uid]) << id;
  }
  EXPECT_EQ(seen.size(), 3u);
  testing::CommandResult verified = testing::RunCommand({"/usr/bin/dciodvfy", disc + "/DICOMDIR"});
  EXPECT_FALSE(absl::StrContains(verified.out + verified.err, "Error")) << verified.err;
  EXPECT_TRUE(absl::StrContains(verified.out + verified.err, "BasicDirectory")) << verified.err;
  EXPECT_TRUE(std::filesystem::exists(disc + "/README.TXT"));
  EXPECT_TRUE(std::filesystem::exists(disc + "/INDEX.HTM"));

  // A ZIP file and an ISO image.
  const std::string zip = root + "/disc.zip";
  const std::string iso = root + "/DISC.ISO";
  testing::CommandResult zipped = export_to(zip, {});
  ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
  testing::CommandResult isoed = export_to(iso, {"--format", "iso"});
  ASSERT_EQ(isoed.exit_code, 0) << isoed.err;
  testing::CommandResult listed =
      testing::RunCommand({"/usr/bin/xorriso", "-indev", iso, "-find", "/", "-type", "f"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (const char* name :
       {"/DICOMDIR", "/README.TXT", "/INDEX.HTM", "/DICOM/ST000003/SE000001/IM000001"}) {
    EXPECT_TRUE(absl::StrContains(listed.out, absl::StrCat("'", name, "'"))) << listed.out;
  }

  // Imported back: every instance is already stored, nothing is sent.
  const double puts_before = PutCalls(cluster);
  for (const std::string& medium : {disc, zip, iso}) {
    testing::CommandResult again = Cli(cluster, {"import", medium});
    EXPECT_EQ(again.exit_code, 0) << medium << "\n" << again.out << again.err;
    EXPECT_TRUE(absl::StrContains(again.out, "import: 0 stored, 3 already stored, 0 refused"))
        << medium << "\n"
        << again.out;
  }
  EXPECT_EQ(PutCalls(cluster), puts_before);

  // Refusals.
  testing::CommandResult unknown =
      Cli(cluster, {"export", "--study", "1.2.3.4.999", "--out", root + "/none.zip"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_FALSE(absl::StrContains(unknown.err, "1.2.3.4.999")) << unknown.err;
  testing::CommandResult not_empty = export_to(disc, {});
  EXPECT_EQ(not_empty.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(not_empty.err, "not an empty folder")) << not_empty.err;

  // INDEX.HTM from file:// in headless Chromium: the studies' table, nothing fetched from
  // elsewhere, a screenshot kept.
  const std::string node_dir = MEDVAULT_SHARE_PAGE_NODE_DIR;
  std::filesystem::copy_file(std::string(MEDVAULT_SOURCE_DIR) + "/tests/export/index_page.mjs",
                             node_dir + "/index_page.mjs",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string config =
      absl::StrCat("{\"url\":\"file://", disc, "/INDEX.HTM\",\"screenshot\":\"",
                   MEDVAULT_EXPORT_SCREENSHOT, "\"}");
  testing::CommandResult page =
      testing::RunCommand({"/usr/bin/node", node_dir + "/index_page.mjs", config});
  ASSERT_EQ(page.exit_code, 0) << page.err;
  EXPECT_TRUE(absl::StrContains(page.out, "\"studies\":3")) << page.out;
  EXPECT_TRUE(absl::StrContains(page.out, "\"foreign_requests\":[]")) << page.out;
  // The CT and MR renderings decoded and are not blank (DCMTK does not render JPEG 2000).
  EXPECT_EQ(CountOf(page.out, "\"loaded\":true"), 2) << page.out;
  EXPECT_EQ(CountOf(page.out, "\"variance\":0}"), 0) << page.out;
  EXPECT_TRUE(std::filesystem::exists(MEDVAULT_EXPORT_SCREENSHOT));
}

}  // namespace
}  // namespace medvault
