#include "cli/document.h"

#include <gtest/gtest.h>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"

namespace medvault::cli {
namespace {

const std::string kPdf = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n";
const std::string kCda =
    "<?xml version=\"1.0\"?>\n<!-- a report -->\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"
    "<title>CT report</title></ClinicalDocument>\n";
const std::string kCcr = "\xEF\xBB\xBF<ccr:ContinuityOfCareRecord xmlns:ccr=\"urn:astm-org:CCR\"/>";
const std::string kHl7 = "MSH|^~\\&|RIS|HOSP|PACS|HOSP|202601011200||ORU^R01|1|P|2.5\rPID|||42\r";
const std::string kRtf = "{\\rtf1\\ansi Findings: none.}";
const std::string kText = "Findings: none.\nImpression: normal.\n";

TEST(DocumentTest, ChecksEachTypeAndRefusesTheOthers) {
  const std::vector<std::pair<DocumentType, std::string>> good = {
      {DocumentType::kPdf, kPdf},   {DocumentType::kCda, kCda}, {DocumentType::kCcr, kCcr},
      {DocumentType::kHl7v2, kHl7}, {DocumentType::kRtf, kRtf}, {DocumentType::kText, kText}};
  for (const auto& [type, bytes] : good) {
    EXPECT_TRUE(CheckDocument(type, bytes).ok()) << DocumentTypeName(type);
    EXPECT_EQ(GuessDocumentType(bytes).value(), type) << DocumentTypeName(type);
    EXPECT_EQ(CheckDocument(type, "").code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(CheckDocument(DocumentType::kPdf, kText).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kCda, kCcr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kCcr, kCda).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kHl7v2, "MSH").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kRtf, kText).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kText, std::string("a\0b", 3)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckDocument(DocumentType::kText, "caf\xC3").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckDocument(DocumentType::kText, "caf\xC3\xA9\n").ok());
  EXPECT_EQ(GuessDocumentType(std::string("\x89PNG\r\n\x1a\n", 8)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDocumentType("HL7v2"), DocumentType::kHl7v2);
  EXPECT_EQ(ParseDocumentType("doc"), std::nullopt);
}

DocumentContext Context() {
  DocumentContext c;
  c.study.set_patient_id("PID-1");
  c.study.set_patient_name("Doe^Jane");
  c.study.set_patient_birth_date("19700101");
  c.study.set_patient_sex("F");
  c.study.set_study_uid("1.2.3.4");
  c.study.set_study_date("20260101");
  c.study.set_accession_number("ACC1");
  c.title = "report.pdf";
  c.sop_instance_uid = "1.2.3.4.5.6";
  c.series_uid = "1.2.3.4.5";
  c.content_date = "20261205";
  c.content_time = "120000";
  return c;
}

std::string Attribute(DcmDataset* ds, const DcmTagKey& tag) {
  OFString v;
  ds->findAndGetOFString(tag, v);
  return v.c_str();
}

TEST(DocumentTest, EncapsulatesIntoTheStudyAndGivesTheBytesBackExactly) {
  for (const auto& [type, bytes] :
       std::vector<std::pair<DocumentType, std::string>>{{DocumentType::kPdf, kPdf},
                                                         {DocumentType::kCda, kCda},
                                                         {DocumentType::kHl7v2, kHl7},
                                                         {DocumentType::kText, kText + "x"}}) {
    absl::StatusOr<std::string> instance = EncapsulateDocument(type, bytes, Context());
    ASSERT_TRUE(instance.ok()) << instance.status();
    ASSERT_GT(instance->size(), 132u);
    EXPECT_EQ(instance->substr(128, 4), "DICM");
    absl::StatusOr<std::string> back = ExtractDocument(*instance);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == bytes) << DocumentTypeName(type) << " size " << back->size();

    DcmInputBufferStream stream;
    stream.setBuffer(instance->data(), instance->size());
    stream.setEos();
    DcmFileFormat file;
    file.transferInit();
    ASSERT_TRUE(file.read(stream).good());
    file.transferEnd();
    DcmDataset* ds = file.getDataset();
    EXPECT_EQ(Attribute(ds, DCM_SOPClassUID), DocumentSopClass(type));
    EXPECT_EQ(Attribute(ds, DCM_MIMETypeOfEncapsulatedDocument), DocumentMediaType(type));
    EXPECT_EQ(Attribute(ds, DCM_StudyInstanceUID), "1.2.3.4");
    EXPECT_EQ(Attribute(ds, DCM_PatientID), "PID-1");
    EXPECT_EQ(Attribute(ds, DCM_PatientName), "Doe^Jane");
    EXPECT_EQ(Attribute(ds, DCM_AccessionNumber), "ACC1");
    EXPECT_EQ(Attribute(ds, DCM_SOPInstanceUID), "1.2.3.4.5.6");
    EXPECT_EQ(Attribute(ds, DCM_Modality), "DOC");
  }
  EXPECT_EQ(DocumentSopClass(DocumentType::kPdf), "1.2.840.10008.5.1.4.1.1.104.1");
  EXPECT_EQ(DocumentSopClass(DocumentType::kCda), "1.2.840.10008.5.1.4.1.1.104.2");
  EXPECT_EQ(DocumentSopClass(DocumentType::kRtf), kPrivateEncapsulatedDocumentClass);
}

TEST(DocumentTest, ExtractRefusesWhatIsNotAnEncapsulatedDocument) {
  EXPECT_EQ(ExtractDocument("not DICOM").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::cli
