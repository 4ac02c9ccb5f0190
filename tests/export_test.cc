// Issue 19's export with the real binaries: three studies of pydicom's files (one in JPEG 2000)
// exported by `medvault export` as a folder, a ZIP file and an ISO 9660 image. DCMTK's dcmdump
// reads the DICOMDIR and every file it references; dicom3tools' dciodvfy finds no error in the
// DICOMDIR; the folder's files are byte-identical to what was stored; xorriso lists the ISO's
// ISO 9660 names; `medvault import` of each medium stores nothing new (every instance is found
// already stored, PutInstance is not called); INDEX.HTM opens from file:// in Debian's headless
// Chromium (a screenshot is kept in the build tree) and loads nothing from elsewhere. INDEX.HTM and
// the IHE_PDI/ study pages are well-formed XHTML (python3's XML parser); each series' "Open" link
// shows its images in the medium's offline viewer (dwv) from file://, in a Chromium started
// without any file:// flag, on a canvas that is not blank (a screenshot is kept). An HL7 v2
// message and a text report attached to a study are on the medium as their original files,
// byte-exact, listed in README.TXT, each beside its stored instance (.DCM) for import. A 128 MiB
// study exported as an ISO keeps the CLI's peak RSS under 80 MiB. Progress: none when stderr is
// not a terminal; on a pseudo-terminal (script(1)) the bar for the instances and then the ISO
// image's layout and writing as a phase of its own. Bad requests: an unknown study and a folder
// that is not empty are refused, exit 1. The independent slow steps (the four exports, the
// browser, the three imports, making the big study) overlap, on a cluster of one chunk server.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/testing/file_scan.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdicdir.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "tests/testing/browser_script.h"
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

// Every regular file under `root`, relative path -> bytes.
std::map<std::string, std::string> FilesUnder(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      out[std::filesystem::relative(e.path(), root).string()] =
          testing::ReadWholeFile(e.path().string());
    }
  }
  return out;
}

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs `f` on a thread of its own; get() waits for its result. The slow steps that do not depend
// on each other (the exports, the imports, the browser, making the big study) overlap.
template <typename F>
auto InBackground(F f) {
  return std::async(std::launch::async, std::move(f));
}

TEST(ExportTest, StudiesAsFolderZipAndIsoReadableByDcmtkAndImportedBackUnchanged) {
  // One chunk server, one replica of each chunk: what is exported is the stored bytes whatever the
  // replication, which other tests cover.
  testing::ClusterOptions options;
  options.chunkservers = 1;
  options.frontend_flags = {"--replicas=1"};
  options.metaserver_flags = {"--replicas=1"};
  const auto start = std::chrono::steady_clock::now();
  // Where the time goes, on stderr (the test's slow steps overlap; CI logs keep this).
  auto Mark = [&start](const char* step) {
    std::cerr << "export_test: " << step << " at "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count()
              << " ms\n";
  };
  ExternalCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  Mark("cluster started");
  const std::string root = cluster.root();
  // The 128 MiB study of the memory check below, made meanwhile (python, no cluster).
  const std::string big = root + "/big";
  std::filesystem::create_directories(big);
  auto big_made = InBackground([&] {
    return testing::RunCommand({"/usr/bin/python3",
                                std::string(MEDVAULT_SOURCE_DIR) + "/tests/export/big_study.py",
                                kPydicom, big, "16"});
  });
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
  // Documents DICOM has no class for, attached to the CT's study.
  const std::string hl7 =
      "MSH|^~\\&|LAB|HOSP|MEDVAULT|HOSP|20240101120000||ORU^R01|42|P|2.5\rPID|1||12345\r";
  const std::string text = "Report: no acute findings.\n";
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"report.hl7", hl7}, {"report.txt", text}}) {
    std::ofstream(root + "/" + name, std::ios::binary) << bytes;
    testing::CommandResult attached =
        Cli(cluster, {"attach", "--study", studies[0], root + "/" + name});
    ASSERT_EQ(attached.exit_code, 0) << attached.err;
  }
  std::vector<std::string> study_args;
  for (const std::string& s : studies) study_args.insert(study_args.end(), {"--study", s});
  auto export_to = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"export", "--out", out};
    args.insert(args.end(), study_args.begin(), study_args.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(cluster, args);
  };

  // A folder, a ZIP file and an ISO image, written at the same time; the ISO once more on a
  // terminal (a pseudo-terminal from util-linux's script(1)) for its progress.
  const std::string disc = root + "/disc";
  const std::string zip = root + "/disc.zip";
  const std::string iso = root + "/DISC.ISO";
  auto zipping = InBackground([&] { return export_to(zip, {}); });
  auto isoing = InBackground([&] { return export_to(iso, {"--format", "iso"}); });
  auto iso_on_terminal = InBackground([&] {
    std::string command;
    for (const std::string& arg : cluster.Cli()) absl::StrAppend(&command, arg, " ");
    absl::StrAppend(&command, "export --out ", root, "/TTY.ISO");
    for (const std::string& arg : study_args) absl::StrAppend(&command, " ", arg);
    return testing::RunCommand({"/usr/bin/script", "-q", "-e", "-c", command, "/dev/null"});
  });
  Mark("stored, exporting");
  testing::CommandResult exported = export_to(disc, {});
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "export: 3 instances")) << exported.out;
  EXPECT_TRUE(absl::StrContains(exported.out, "2 documents")) << exported.out;
  EXPECT_TRUE(absl::StrContains(exported.out, "STD-GEN-DVD-J2K")) << exported.out;
  EXPECT_FALSE(absl::StrContains(exported.err, "\r")) << exported.err;  // not a terminal: no bar

  // INDEX.HTM from file:// in headless Chromium, while the rest is checked: the studies' table,
  // nothing fetched from elsewhere, a screenshot kept.
  const std::string script = testing::StageBrowserScript(
      MEDVAULT_SOURCE_DIR, "tests/export/index_page.mjs", MEDVAULT_SHARE_PAGE_NODE_DIR);
  const std::string config = absl::StrCat(
      "{\"url\":\"file://", disc, "/INDEX.HTM\",\"screenshot\":\"", MEDVAULT_EXPORT_SCREENSHOT,
      "\",\"viewer_screenshot\":\"", MEDVAULT_EXPORT_VIEWER_SCREENSHOT, "\"}");
  auto browsed = InBackground([&] {
    return testing::RunCommand({"/usr/bin/node", script, config});
  });

  Mark("folder exported");
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
  EXPECT_TRUE(std::filesystem::exists(disc + "/INDEX.HTM"));

  // The documents as their original files, listed in README.TXT.
  // Each beside its stored instance (.DCM, a DICOM file), which import reads back.
  std::set<std::string> documents;
  int instances_beside = 0;
  for (const auto& [path, bytes] : FilesUnder(disc + "/DOCUMENT")) {
    if (!absl::EndsWith(path, ".DCM")) {
      documents.insert(bytes);
    } else if (bytes.size() > 132 && bytes.substr(128, 4) == "DICM") {
      ++instances_beside;
    }
  }
  EXPECT_EQ(documents, (std::set<std::string>{hl7, text}));
  EXPECT_EQ(instances_beside, 2);
  const std::string readme = testing::ReadWholeFile(disc + "/README.TXT");
  EXPECT_TRUE(absl::StrContains(
      readme, absl::StrCat(".HL7: x-application/hl7-v2+er7, ", hl7.size(), " bytes")))
      << readme;
  EXPECT_TRUE(absl::StrContains(readme, absl::StrCat(".TXT: text/plain, ", text.size(), " bytes")))
      << readme;

  // INDEX.HTM and a page per study under IHE_PDI/, well-formed XHTML (one python3 run parses
  // them all), beside the renderings.
  const std::map<std::string, std::string> pdi = FilesUnder(disc + "/IHE_PDI");
  for (const char* page : {"ST000001.HTM", "ST000002.HTM", "ST000003.HTM"}) {
    EXPECT_EQ(pdi.count(page), 1u) << page;
  }
  EXPECT_EQ(pdi.count("ST000001/SE000001.JPG"), 1u);
  std::vector<std::string> parse = {
      "/usr/bin/python3", "-c",
      "import sys, xml.etree.ElementTree as E\n"
      "for p in sys.argv[1:]:\n"
      "  r = E.parse(p).getroot()\n"
      "  assert r.tag == '{http://www.w3.org/1999/xhtml}html', (p, r.tag)\n",
      disc + "/INDEX.HTM"};
  for (const auto& [path, bytes] : pdi) {
    if (absl::EndsWith(path, ".HTM")) parse.push_back(disc + "/IHE_PDI/" + path);
  }
  EXPECT_EQ(parse.size(), 7u);
  testing::CommandResult parsed = testing::RunCommand(parse);
  EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_TRUE(absl::StrContains(testing::ReadWholeFile(disc + "/INDEX.HTM"),
                                "href=\"IHE_PDI/ST000003.HTM\""));

  // The viewer's copy of each image, beside the DICOM files (which stay byte-exact, above).
  EXPECT_TRUE(std::filesystem::exists(disc + "/VIEWER/VIEWER.HTM"));
  EXPECT_TRUE(std::filesystem::exists(disc + "/VIEWER/ST000003/SE000001/IM000001.JS"));

  // The ZIP file and the ISO image. Not on a terminal: no progress at all, the ISO's phase
  // neither; on the terminal, the bar for the instances, then the ISO image's own phase, ended at
  // the image's size.
  Mark("folder checked");
  testing::CommandResult zipped = zipping.get();
  ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
  EXPECT_FALSE(absl::StrContains(zipped.err, "\r")) << zipped.err;
  testing::CommandResult isoed = isoing.get();
  ASSERT_EQ(isoed.exit_code, 0) << isoed.err;
  EXPECT_FALSE(absl::StrContains(isoed.err, "\r")) << isoed.err;
  EXPECT_FALSE(absl::StrContains(isoed.err, "ISO image")) << isoed.err;
  testing::CommandResult tty = iso_on_terminal.get();
  EXPECT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_TRUE(absl::StrContains(tty.out, "\r[")) << tty.out;
  EXPECT_TRUE(absl::StrContains(tty.out, "5/5 files")) << tty.out;        // 3 images, 2 documents
  EXPECT_TRUE(absl::StrContains(tty.out, "ISO image: 0 B/")) << tty.out;  // drawn as it starts
  // The last drawing of the ISO phase reads "ISO image: S/S": all of the image written.
  const size_t last_phase = tty.out.rfind("ISO image: ");
  ASSERT_NE(last_phase, std::string::npos) << tty.out;
  const std::string done =
      tty.out.substr(last_phase + 11, tty.out.find("  ", last_phase) - last_phase - 11);
  const size_t slash = done.find('/');
  ASSERT_NE(slash, std::string::npos) << done;
  EXPECT_EQ(done.substr(0, slash), done.substr(slash + 1)) << tty.out;
  testing::CommandResult listed =
      testing::RunCommand({"/usr/bin/xorriso", "-indev", iso, "-find", "/", "-type", "f"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (const char* name :
       {"/DICOMDIR", "/README.TXT", "/INDEX.HTM", "/DICOM/ST000003/SE000001/IM000001"}) {
    EXPECT_TRUE(absl::StrContains(listed.out, absl::StrCat("'", name, "'"))) << listed.out;
  }

  // Imported back (the three media at once): every instance is already stored. The DICOMDIR's
  // instances are found in the index and not sent; the two documents' instances under DOCUMENT/
  // (which the DICOMDIR does not name) are sent and answered "already stored".
  Mark("ZIP and ISOs exported");
  const double puts_before = PutCalls(cluster);
  const std::vector<std::string> media = {disc, zip, iso};
  std::vector<std::future<testing::CommandResult>> imports;
  for (const std::string& medium : media) {
    imports.push_back(InBackground([&cluster, medium] {
      return Cli(cluster, {"import", medium});
    }));
  }
  for (size_t i = 0; i < media.size(); ++i) {
    testing::CommandResult again = imports[i].get();
    EXPECT_EQ(again.exit_code, 0) << media[i] << "\n" << again.out << again.err;
    EXPECT_TRUE(absl::StrContains(again.out, "import: 0 stored, 5 already stored, 0 refused"))
        << media[i] << "\n"
        << again.out;
  }
  EXPECT_EQ(PutCalls(cluster), puts_before + 3 * 2);

  Mark("imported back");
  // Refusals.
  testing::CommandResult unknown =
      Cli(cluster, {"export", "--study", "1.2.3.4.999", "--out", root + "/none.zip"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_FALSE(absl::StrContains(unknown.err, "1.2.3.4.999")) << unknown.err;
  testing::CommandResult not_empty = export_to(disc, {});
  EXPECT_EQ(not_empty.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(not_empty.err, "not an empty folder")) << not_empty.err;

  // A 128 MiB study (16 instances of 8 MiB) exported as an ISO: the CLI's peak resident memory
  // (getrusage of the child) stays well under the study (measured: 54 MiB, of which the rendering
  // of one 2048 x 2048 image and gRPC's buffers; it does not grow with the number of instances).
  Mark("refusals checked");
  testing::CommandResult made = big_made.get();
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string big_study(absl::StripAsciiWhitespace(made.out));
  Mark("big study made");
  testing::CommandResult put_big = Cli(cluster, {"import", big});
  ASSERT_EQ(put_big.exit_code, 0) << put_big.err;
  std::vector<std::string> measured = {
      "/usr/bin/python3", "-c",
      "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
      "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"};
  for (const std::string& a : cluster.Cli()) measured.push_back(a);
  for (const std::string& a :
       {std::string("export"), std::string("--study"), big_study, std::string("--out"),
        root + "/BIG.ISO", std::string("--no-viewer")}) {
    measured.push_back(a);
  }
  Mark("big study imported");
  testing::CommandResult big_iso = testing::RunCommand(measured);
  ASSERT_EQ(big_iso.exit_code, 0) << big_iso.err;
  EXPECT_TRUE(absl::StrContains(big_iso.out, "export: 16 instances, 134")) << big_iso.out;
  const std::string peak_kib(absl::StripAsciiWhitespace(
      big_iso.out.substr(big_iso.out.rfind('\n', big_iso.out.size() - 2) + 1)));
  std::cerr << "export of a 128 MiB study as an ISO: peak RSS " << peak_kib << " KiB\n";
  EXPECT_LT(std::stol(peak_kib), 80 << 10) << big_iso.out;
  EXPECT_GT(std::filesystem::file_size(root + "/BIG.ISO"), 128u << 20);

  // What the browser saw (started above).
  Mark("big study exported");
  testing::CommandResult page = browsed.get();
  ASSERT_EQ(page.exit_code, 0) << page.err;
  EXPECT_TRUE(absl::StrContains(page.out, "\"studies\":3")) << page.out;
  EXPECT_TRUE(absl::StrContains(page.out, "\"foreign_requests\":[]")) << page.out;
  // The CT and MR renderings decoded and are not blank (DCMTK does not render JPEG 2000).
  EXPECT_EQ(CountOf(page.out, "\"loaded\":true"), 2) << page.out;
  EXPECT_EQ(CountOf(page.out, "\"variance\":0}"), 0) << page.out;
  EXPECT_TRUE(std::filesystem::exists(MEDVAULT_EXPORT_SCREENSHOT));
  // The viewer shows each of the three series (the CT, the MR and the JPEG 2000 image, decoded by
  // dwv's worker) on a canvas that is not blank, with nothing fetched from elsewhere.
  EXPECT_FALSE(absl::StrContains(page.out, "viewer_error")) << page.out;
  EXPECT_EQ(CountOf(page.out, "\"state\":\"loaded\""), 3) << page.out;
  EXPECT_EQ(CountOf(page.out, "\"variance\":0}"), 0) << page.out;
  EXPECT_TRUE(absl::StrContains(page.out, "\"viewer_foreign_requests\":[]")) << page.out;
  EXPECT_TRUE(std::filesystem::exists(MEDVAULT_EXPORT_VIEWER_SCREENSHOT));
  Mark("browser done");
}

}  // namespace
}  // namespace medvault
