// Issue 19's documents beside images with the real binaries: `medvault attach` stores a PDF, a
// CDA, a CCR, an HL7 v2 message, an RTF and a plain-text file with a stored study; each is listed
// with the study (`get --study`), comes back byte-exact (`get --document`), is a DICOM instance
// DCMTK's dcmdump reads (PDF and CDA in their standard SOP classes, the study's patient
// attributes), lies on the chunk servers only as ciphertext, and is crypto-shredded by `rm`. A
// file that is not what its type says, an empty file and an unknown study are refused with a
// clear error and nothing is stored. The index keeps each document's media type: `find` (table and
// JSON) and `get --study` list the study's documents with it. A second study's PDF, text and
// HL7 v2 documents are exported to a disc, the study is deleted (each document's key destroyed:
// the key service's audit says so and refuses the key; the documents cannot be read), and
// `medvault import` of the disc gives them back byte-exact with the same UIDs and media types; a
// second import stores nothing new.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/rpc.h"
#include "common/testing/file_scan.h"
#include "common/tls.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "tests/testing/cli_fixture.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/key_audit.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using testing::Cli;
using testing::ExternalCluster;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Instances `get --study` writes for the study.
int InstancesOfStudy(const ExternalCluster& cluster, const std::string& study, int n) {
  const std::string dir = absl::StrCat(cluster.root(), "/study-", n);
  testing::CommandResult got = Cli(cluster, {"get", "--study", study, "-o", dir, "--quiet"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  int count = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    count += e.is_regular_file() ? 1 : 0;
  }
  return count;
}

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// find --json's entry for one document of a study.
std::string JsonDocument(const std::string& uid, const std::string& mime) {
  return absl::StrCat("{\"sop_instance_uid\": \"", uid, "\", \"mime_type\": \"", mime, "\"");
}

struct Document {
  std::string type;  // --type, and the file's extension
  std::string bytes;
  std::string sop_class;  // expected in dcmdump's output
  std::string mime;
};

std::vector<Document> Documents() {
  // A small, well-formed PDF (odd length: the padding byte must not come back).
  const std::string pdf =
      "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages "
      "/Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n!";
  return {
      {"pdf", pdf, "EncapsulatedPDFStorage", "application/pdf"},
      {"cda",
       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"
       "<title>CT head report</title><component/></ClinicalDocument>\n",
       "EncapsulatedCDAStorage", "text/XML"},
      {"ccr",
       "<?xml version=\"1.0\"?><ContinuityOfCareRecord xmlns=\"urn:astm-org:CCR\">"
       "<CCRDocumentObjectID>1</CCRDocumentObjectID></ContinuityOfCareRecord>",
       "2.25.47879059198957408044330829400023511120", "application/x-ccr+xml"},
      {"hl7v2",
       "MSH|^~\\&|RIS|HOSP|PACS|HOSP|202612051200||ORU^R01|42|P|2.5\rPID|||PAT-7\r"
       "OBX|1|TX|||No acute findings.\r",
       "2.25.47879059198957408044330829400023511120", "x-application/hl7-v2+er7"},
      {"rtf", "{\\rtf1\\ansi\\deff0 {\\b Findings:} none.\\par}\n",
       "2.25.47879059198957408044330829400023511120", "text/rtf"},
      {"text", "Findings: none.\nImpression: normal study.\n",
       "2.25.47879059198957408044330829400023511120", "text/plain"},
  };
}

TEST(AttachTest, EveryTypeStoredWithTheStudyReadBackExactAndShredded) {
  ExternalCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  const std::string root = cluster.root();
  testing::CommandResult put =
      Cli(cluster, {"put", std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  const std::string study = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322";
  ASSERT_EQ(InstancesOfStudy(cluster, study, 0), 1);

  std::vector<std::string> uids;
  int n = 0;
  for (const Document& doc : Documents()) {
    const std::string file = absl::StrCat(root, "/report-", ++n, ".", doc.type);
    WriteFile(file, doc.bytes);
    // Every other one with --type, the others guessed from the content.
    std::vector<std::string> args = {"attach", "--study", study, file};
    if (n % 2 == 1) args.insert(args.end(), {"--type", doc.type});
    testing::CommandResult attached = Cli(cluster, args);
    ASSERT_EQ(attached.exit_code, 0) << doc.type << ": " << attached.err;
    EXPECT_TRUE(absl::StrContains(attached.err, absl::StrCat("attached as ", doc.type)))
        << attached.err;
    const std::string uid(absl::StripAsciiWhitespace(attached.out));
    ASSERT_FALSE(uid.empty());
    uids.push_back(uid);

    // The original bytes back.
    const std::string back = absl::StrCat(root, "/back-", n, ".", doc.type);
    testing::CommandResult got = Cli(cluster, {"get", "--instance", uid, "--document", "-o", back});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    EXPECT_TRUE(testing::ReadWholeFile(back) == doc.bytes) << doc.type;

    // The stored instance is DICOM that DCMTK reads, with the study's patient.
    const std::string dcm = absl::StrCat(root, "/back-", n, ".dcm");
    ASSERT_EQ(Cli(cluster, {"get", "--instance", uid, "-o", dcm}).exit_code, 0);
    testing::CommandResult dump = testing::RunCommand({"/usr/bin/dcmdump", dcm});
    EXPECT_EQ(dump.exit_code, 0) << dump.err;
    EXPECT_TRUE(absl::StrContains(dump.out, doc.sop_class)) << doc.type << "\n" << dump.out;
    EXPECT_TRUE(absl::StrContains(dump.out, absl::StrCat("[", doc.mime, "]"))) << dump.out;
    EXPECT_TRUE(absl::StrContains(dump.out, "[CompressedSamples^CT1]")) << dump.out;
    EXPECT_TRUE(absl::StrContains(dump.out, absl::StrCat("[", study, "]"))) << dump.out;

    // Only ciphertext on the chunk servers: the document's text is on no chunk server's disk.
    const std::string needle = doc.bytes.substr(0, 24);
    for (int i = 0; i < static_cast<int>(cluster.chunkservers().size()); ++i) {
      EXPECT_TRUE(testing::FilesContaining(cluster.chunkserver_dir(i), needle).empty())
          << doc.type << " on chunk server " << i;
    }
  }
  // Listed with the study: the image and the six documents.
  EXPECT_EQ(InstancesOfStudy(cluster, study, 1), 7);

  // The index keeps each document's media type: find lists the study's documents with it (JSON
  // and table), and get --study names it beside each document it writes.
  testing::CommandResult listed = Cli(cluster, {"find", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (size_t i = 0; i < uids.size(); ++i) {
    EXPECT_TRUE(absl::StrContains(listed.out, JsonDocument(uids[i], Documents()[i].mime)))
        << listed.out;
  }
  testing::CommandResult table = Cli(cluster, {"find"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(CountOf(table.out, absl::StrCat("document  ", study, "  ")), 6) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, absl::StrCat("  text/plain  "))) << table.out;
  testing::CommandResult whole =
      Cli(cluster, {"get", "--study", study, "-o", root + "/whole-study"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  for (const Document& doc : Documents()) {
    EXPECT_TRUE(absl::StrContains(whole.err, absl::StrCat("(document, ", doc.mime, ")")))
        << whole.err;
  }
  EXPECT_EQ(CountOf(whole.err, "(document, "), 6) << whole.err;

  // Refused, nothing stored: a file that is not what its type says, an empty file, a file of no
  // known type, an unknown study.
  const std::string text = root + "/note.txt";
  WriteFile(text, "just text\n");
  const std::string empty = root + "/empty.pdf";
  WriteFile(empty, "");
  const std::string png = root + "/image.png";
  WriteFile(png, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  struct Bad {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{"--study", study, text, "--type", "pdf"}, "INVALID_ARGUMENT: the file is not a PDF"},
           {{"--study", study, text, "--type", "cda"},
            "INVALID_ARGUMENT: the file is not an HL7 CDA"},
           {{"--study", study, text, "--type", "ccr"},
            "INVALID_ARGUMENT: the file is not an ASTM CCR"},
           {{"--study", study, text, "--type", "hl7v2"},
            "INVALID_ARGUMENT: the file is not an HL7 v2 message"},
           {{"--study", study, text, "--type", "rtf"},
            "INVALID_ARGUMENT: the file is not an RTF document"},
           {{"--study", study, png, "--type", "text"},
            "INVALID_ARGUMENT: the file is not plain UTF-8 text"},
           {{"--study", study, empty}, "INVALID_ARGUMENT: the document is empty"},
           {{"--study", study, empty, "--type", "text"}, "INVALID_ARGUMENT: the document is empty"},
           {{"--study", study, png}, "INVALID_ARGUMENT: the file is none of"},
           {{"--study", "1.2.3.999", text}, "NOT_FOUND: no such study is stored"}}) {
    std::vector<std::string> args = {"attach"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    testing::CommandResult refused = Cli(cluster, args);
    EXPECT_EQ(refused.exit_code, 1) << bad.error;
    EXPECT_TRUE(absl::StrContains(refused.err, bad.error)) << refused.err;
    EXPECT_TRUE(refused.out.empty()) << refused.out;
  }
  // A type attach does not know is a usage error (exit 2), before anything is read or sent.
  testing::CommandResult unknown_type =
      Cli(cluster, {"attach", "--study", study, text, "--type", "docx"});
  EXPECT_EQ(unknown_type.exit_code, 2) << unknown_type.err;
  EXPECT_TRUE(absl::StrContains(unknown_type.err, "--type wants one of")) << unknown_type.err;
  EXPECT_TRUE(unknown_type.out.empty()) << unknown_type.out;
  EXPECT_EQ(InstancesOfStudy(cluster, study, 2), 7);
  testing::CommandResult studies = Cli(cluster, {"find", "--json"});
  EXPECT_FALSE(absl::StrContains(studies.out, "1.2.3.999")) << studies.out;

  // Deleted like an image: its key is destroyed and it cannot be read any more.
  testing::CommandResult rm = Cli(cluster, {"rm", "--instance", uids[0]});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  testing::CommandResult gone =
      Cli(cluster, {"get", "--instance", uids[0], "--document", "-o", root + "/gone.pdf"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(gone.err, "NOT_FOUND")) << gone.err;
  EXPECT_FALSE(std::filesystem::exists(root + "/gone.pdf"));
  EXPECT_EQ(InstancesOfStudy(cluster, study, 3), 6);
  testing::CommandResult after_rm = Cli(cluster, {"find", "--json"});
  EXPECT_FALSE(absl::StrContains(after_rm.out, uids[0])) << after_rm.out;
  EXPECT_TRUE(absl::StrContains(after_rm.out, JsonDocument(uids[1], "text/XML"))) << after_rm.out;

  // --- A second study's documents: exported, the study deleted (keys destroyed), imported. ---
  const std::string mr = std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/MR_small.dcm";
  ASSERT_EQ(Cli(cluster, {"put", mr}).exit_code, 0);
  const std::string mr_study = testing::Attribute(mr, DCM_StudyInstanceUID);
  struct Kept {
    std::string uid, mime, bytes, object_id;
  };
  std::vector<Kept> kept;
  for (const Document& doc : Documents()) {
    if (doc.type != "pdf" && doc.type != "text" && doc.type != "hl7v2") continue;
    const std::string file = absl::StrCat(root, "/mr-report.", doc.type);
    WriteFile(file, doc.bytes);
    testing::CommandResult attached = Cli(cluster, {"attach", "--study", mr_study, file});
    ASSERT_EQ(attached.exit_code, 0) << attached.err;
    const std::string uid(absl::StripAsciiWhitespace(attached.out));
    absl::StatusOr<std::string> object_id = testing::ObjectIdOf(cluster, uid);
    ASSERT_TRUE(object_id.ok()) << object_id.status();
    kept.push_back({uid, doc.mime, doc.bytes, *object_id});
  }
  const std::string disc = root + "/mr-disc";
  testing::CommandResult exported =
      Cli(cluster, {"export", "--study", mr_study, "--out", disc, "--no-viewer"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // The PDF in the DICOMDIR as DICOM; text and HL7 v2 as their files, each beside its instance.
  EXPECT_TRUE(absl::StrContains(exported.out, "export: 2 instances")) << exported.out;
  EXPECT_TRUE(absl::StrContains(exported.out, "2 documents")) << exported.out;

  testing::CommandResult deleted = Cli(cluster, {"rm", "--study", mr_study});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  auto keys = v1::KeyService::NewStub(cluster.Channel(cluster.keyservice(), kKeyServicePeer));
  for (const Kept& k : kept) {
    // The key service's audit records the key's destruction and it refuses the key...
    testing::CommandResult audit =
        Cli(cluster, {"audit", "--object", absl::BytesToHexString(k.object_id), "--json"});
    ASSERT_EQ(audit.exit_code, 0) << audit.err;
    EXPECT_TRUE(absl::StrContains(audit.out, "\"op\":\"destroy\"")) << k.mime << audit.out;
    grpc::ClientContext context;
    v1::GetDataKeyRequest request;
    request.set_object_id(k.object_id);
    v1::GetDataKeyResponse response;
    EXPECT_EQ(keys->GetDataKey(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << k.mime;
    // ...the document cannot be read back, and its plaintext is on no chunk server's disk.
    testing::CommandResult gone_doc =
        Cli(cluster, {"get", "--instance", k.uid, "--document", "-o", root + "/gone-doc"});
    EXPECT_EQ(gone_doc.exit_code, 1) << k.mime;
    EXPECT_TRUE(absl::StrContains(gone_doc.err, "NOT_FOUND")) << gone_doc.err;
    for (int i = 0; i < static_cast<int>(cluster.chunkservers().size()); ++i) {
      EXPECT_TRUE(
          testing::FilesContaining(cluster.chunkserver_dir(i), k.bytes.substr(0, 24)).empty())
          << k.mime << " on chunk server " << i;
    }
  }
  EXPECT_FALSE(absl::StrContains(Cli(cluster, {"find", "--json"}).out, mr_study));

  // The disc brings the study back: the image and the PDF through the DICOMDIR, the text and
  // HL7 v2 documents from their instances under DOCUMENT/; byte-exact, same UIDs, same types.
  testing::CommandResult imported = Cli(cluster, {"import", disc});
  EXPECT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  EXPECT_TRUE(absl::StrContains(imported.out, "import: 4 stored, 0 already stored, 0 refused"))
      << imported.out;
  testing::CommandResult back_listed = Cli(cluster, {"find", "--json"});
  for (const Kept& k : kept) {
    const std::string back = root + "/imported-doc";
    testing::CommandResult got =
        Cli(cluster, {"get", "--instance", k.uid, "--document", "-o", back});
    ASSERT_EQ(got.exit_code, 0) << k.mime << got.err;
    EXPECT_TRUE(testing::ReadWholeFile(back) == k.bytes) << k.mime;
    EXPECT_TRUE(absl::StrContains(back_listed.out, JsonDocument(k.uid, k.mime))) << back_listed.out;
  }
  // Safe to run again: everything is already stored.
  testing::CommandResult again = Cli(cluster, {"import", disc});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(absl::StrContains(again.out, "import: 0 stored, 4 already stored, 0 refused"))
      << again.out;
}

}  // namespace
}  // namespace medvault
