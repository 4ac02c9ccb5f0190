// Issue 19's import with the real binaries: discs made by DCMTK's dcmmkdir from pydicom's files,
// imported by `medvault import` as a folder, as a ZIP file (bsdtar) and as an ISO 9660 image
// (xorriso); a second import of each finds everything already stored without sending a byte
// (PutInstance is not even called); every instance reads back byte-identical with `medvault
// get`; on a terminal a progress bar is drawn; a file the DICOMDIR references but the medium lacks,
// and a broken file found by scanning a folder without DICOMDIR, are refused with their reason and
// exit 1.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/file_scan.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/cli_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::Cli;
using testing::ExternalCluster;
using testing::PutCalls;

const std::string kPydicom = MEDVAULT_PYDICOM_TEST_FILES;

std::string SopInstanceUid(const std::string& path) {
  return testing::Attribute(path, DCM_SOPInstanceUID);
}

// A disc as a modality or PACS writes it: DICOM/ST000001/IM00000N, a DICOMDIR made by dcmmkdir
// (general purpose profile), and files no DICOMDIR references (a README, a viewer).
std::vector<std::string> MakeMedium(const std::string& dir, const std::vector<std::string>& names) {
  std::filesystem::create_directories(dir + "/DICOM/ST000001");
  std::filesystem::create_directories(dir + "/VIEWER");
  std::vector<std::string> files;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string file = absl::StrCat(dir, "/DICOM/ST000001/IM00000", i + 1);
    std::filesystem::copy_file(kPydicom + "/" + names[i], file);
    files.push_back(file);
  }
  std::ofstream(dir + "/README.TXT") << "A disc for the test.\n";
  std::ofstream(dir + "/VIEWER/VIEWER.JS") << "// not DICOM\n";
  testing::CommandResult made = testing::RunCommand(
      {"/usr/bin/dcmmkdir", "+r", "+I", "-Pgp", "+id", dir, "+D", dir + "/DICOMDIR", "DICOM"});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/DICOMDIR")) << made.err;
  return files;
}

void ExpectReadBackIdentical(const ExternalCluster& cluster,
                             const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    const std::string out = cluster.root() + "/back.dcm";
    testing::CommandResult got =
        Cli(cluster, {"get", "--instance", SopInstanceUid(file), "-o", out});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    EXPECT_TRUE(testing::ReadWholeFile(out) == testing::ReadWholeFile(file)) << file;
  }
}

TEST(ImportTest, DiscAsFolderZipAndIsoStoredOnceAndReadBackIdentical) {
  ExternalCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  const std::string root = cluster.root();
  // Three discs with different instances, so each form is stored for real once.
  const std::vector<std::string> folder =
      MakeMedium(root + "/folder", {"CT_small.dcm", "MR_small.dcm"});
  const std::vector<std::string> zipped =
      MakeMedium(root + "/zipped", {"SC_rgb_small_odd.dcm", "liver_1frame.dcm"});
  const std::vector<std::string> iso =
      MakeMedium(root + "/iso", {"waveform_ecg.dcm", "test-SR.dcm"});
  testing::CommandResult zip =
      testing::RunCommand({"/usr/bin/bsdtar", "--format", "zip", "-cf", root + "/disc.zip", "-C",
                           root + "/zipped", "."});
  ASSERT_EQ(zip.exit_code, 0) << zip.err;
  testing::CommandResult mkiso = testing::RunCommand(
      {"/usr/bin/xorriso", "-as", "mkisofs", "-quiet", "-o", root + "/disc.iso", root + "/iso"});
  ASSERT_EQ(mkiso.exit_code, 0) << mkiso.err;

  const std::vector<std::string> media = {root + "/folder", root + "/disc.zip", root + "/disc.iso"};
  for (const std::string& medium : media) {
    testing::CommandResult imported = Cli(cluster, {"import", medium, "--jobs", "2"});
    EXPECT_EQ(imported.exit_code, 0) << medium << "\n" << imported.out << imported.err;
    EXPECT_TRUE(
        absl::StrContains(imported.out,
                          "import: 2 stored, 0 already stored, 0 refused, 3 other files not "
                          "referenced by the DICOMDIR"))
        << medium << "\n"
        << imported.out << imported.err;
    // Not a terminal: no progress bar.
    EXPECT_FALSE(absl::StrContains(imported.err, "\r")) << imported.err;
  }
  ExpectReadBackIdentical(cluster, folder);
  ExpectReadBackIdentical(cluster, zipped);
  ExpectReadBackIdentical(cluster, iso);

  // Again: everything is found in the index and skipped before a byte is sent.
  const double puts_before = PutCalls(cluster);
  EXPECT_GE(puts_before, 6);
  for (const std::string& medium : media) {
    testing::CommandResult again = Cli(cluster, {"import", medium});
    EXPECT_EQ(again.exit_code, 0) << medium << "\n" << again.out << again.err;
    EXPECT_TRUE(absl::StrContains(again.out, "import: 0 stored, 2 already stored, 0 refused"))
        << medium << "\n"
        << again.out;
  }
  EXPECT_EQ(PutCalls(cluster), puts_before);

  // On a terminal (a pseudo-terminal from util-linux's script(1)): the progress bar, redrawn in
  // place with '\r', ends at every file done.
  std::string command;
  for (const std::string& arg : cluster.Cli()) absl::StrAppend(&command, arg, " ");
  absl::StrAppend(&command, "import ", root, "/folder");
  testing::CommandResult tty =
      testing::RunCommand({"/usr/bin/script", "-q", "-e", "-c", command, "/dev/null"});
  EXPECT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_TRUE(absl::StrContains(tty.out, "\r[")) << tty.out;
  EXPECT_TRUE(absl::StrContains(tty.out, "2/2 files")) << tty.out;

  // A disc missing a file its DICOMDIR references: the rest is stored, the gap refused, exit 1.
  const std::vector<std::string> partial =
      MakeMedium(root + "/partial", {"MR_small_padded.dcm", "reportsi.dcm"});
  std::filesystem::remove(partial[0]);
  testing::CommandResult gap = Cli(cluster, {"import", root + "/partial"});
  EXPECT_EQ(gap.exit_code, 1) << gap.out << gap.err;
  EXPECT_TRUE(absl::StrContains(gap.out, "import: 1 stored, 0 already stored, 1 refused"))
      << gap.out;
  EXPECT_TRUE(absl::StrContains(gap.out,
                                "refused: DICOM/ST000001/IM000001: NOT_FOUND: referenced by the "
                                "DICOMDIR but not on the medium"))
      << gap.out;
  ExpectReadBackIdentical(cluster, {partial[1]});

  // No DICOMDIR: every DICOM file below the folder; a truncated one is refused with the server's
  // reason, files that are not DICOM are left alone, an instance stored earlier is recognised.
  const std::string scan = root + "/scan";
  std::filesystem::create_directories(scan + "/a/b");
  std::filesystem::copy_file(kPydicom + "/CT_small.dcm", scan + "/a/ct.dcm");
  std::filesystem::copy_file(kPydicom + "/MR_truncated.dcm", scan + "/a/b/mr.dcm");
  std::filesystem::copy_file(kPydicom + "/JPEG2000.dcm", scan + "/emri");
  std::ofstream(scan + "/notes.txt") << "not DICOM\n";
  testing::CommandResult scanned = Cli(cluster, {"import", scan});
  EXPECT_EQ(scanned.exit_code, 1) << scanned.out << scanned.err;
  EXPECT_TRUE(absl::StrContains(
      scanned.out, "import: 1 stored, 1 already stored, 1 refused, 1 other files not DICOM"))
      << scanned.out;
  EXPECT_TRUE(absl::StrContains(scanned.out, "refused: a/b/mr.dcm: INVALID_ARGUMENT"))
      << scanned.out;
  ExpectReadBackIdentical(cluster, {scan + "/emri"});

  // Not a medium at all.
  std::ofstream(root + "/notes.txt") << "hello";
  testing::CommandResult bad = Cli(cluster, {"import", root + "/notes.txt"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "is not a folder, a ZIP file or an ISO image")) << bad.err;
}

}  // namespace
}  // namespace medvault
