#include "frontend/core/encapsulated_check.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/document_content.h"
#include "frontend/core/dicom_parser.h"
#include "frontend/testing/dicom_bytes.h"

namespace medvault::frontend {
namespace {

// A Part 10 Encapsulated Document instance of `sop_class` holding `document` as `mime`.
std::string Encapsulated(const char* sop_class, const std::string& mime,
                         const std::string& document) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, sop_class);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.1");
  ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1143.2");
  ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1143.3");
  ds->putAndInsertString(DCM_MIMETypeOfEncapsulatedDocument, mime.c_str());
  std::string padded = document;
  if (padded.size() % 2 == 1) padded.push_back('\0');
  ds->putAndInsertUint8Array(DCM_EncapsulatedDocument,
                             reinterpret_cast<const Uint8*>(padded.data()), padded.size());
  ds->putAndInsertUint32(DCM_EncapsulatedDocumentLength, static_cast<Uint32>(document.size()));
  return DicomBytes(file, document.size() + (64 << 10));
}

const std::string kPdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
const std::string kCda =
    "<?xml version=\"1.0\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>x</title>"
    "</ClinicalDocument>\n";

TEST(EncapsulatedCheckTest, DocumentsThatAreWhatTheySayAreStored) {
  EXPECT_TRUE(
      ParseDicomHeader(Encapsulated(UID_EncapsulatedPDFStorage, "application/pdf", kPdf)).ok());
  EXPECT_TRUE(ParseDicomHeader(Encapsulated(UID_EncapsulatedCDAStorage, "text/XML", kCda)).ok());
  // Other classes are not looked at.
  EXPECT_TRUE(
      ParseDicomHeader(Encapsulated(UID_SecondaryCaptureImageStorage, "text/plain", "hi")).ok());
}

TEST(EncapsulatedCheckTest, TheMediaTypeIsIndexed) {
  absl::StatusOr<v1::InstanceTags> pdf =
      ParseDicomHeader(Encapsulated(UID_EncapsulatedPDFStorage, "application/pdf", kPdf));
  ASSERT_TRUE(pdf.ok()) << pdf.status();
  EXPECT_EQ(pdf->mime_type(), "application/pdf");
  absl::StatusOr<v1::InstanceTags> text = ParseDicomHeader(
      Encapsulated(medvault::kPrivateEncapsulatedDocumentClass, "text/plain", "Findings: none.\n"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->mime_type(), "text/plain");
}

TEST(EncapsulatedCheckTest, ContentOrMimeTypeThatDoesNotMatchIsRefused) {
  struct Case {
    const char* sop_class;
    std::string mime, document, attribute;
  } cases[] = {
      {UID_EncapsulatedPDFStorage, "application/pdf", "GIF89a not a pdf", "(0042,0011)"},
      {UID_EncapsulatedPDFStorage, "application/pdf", kCda, "(0042,0011)"},
      {UID_EncapsulatedPDFStorage, "text/XML", kPdf, "(0042,0012)"},
      {UID_EncapsulatedCDAStorage, "text/XML", kPdf, "(0042,0011)"},
      {UID_EncapsulatedCDAStorage, "text/XML", "<?xml version=\"1.0\"?><ContinuityOfCareRecord/>",
       "(0042,0011)"},
      {UID_EncapsulatedCDAStorage, "application/pdf", kCda, "(0042,0012)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::InstanceTags> parsed =
        ParseDicomHeader(Encapsulated(c.sop_class, c.mime, c.document));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.mime << " " << c.document;
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), c.attribute)) << parsed.status();
    // The message names the attribute, never the document.
    EXPECT_FALSE(absl::StrContains(parsed.status().message(), c.document.substr(0, 8)))
        << parsed.status();
  }
}

}  // namespace
}  // namespace medvault::frontend
