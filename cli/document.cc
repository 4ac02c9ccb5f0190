#include "cli/document.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/document_content.h"
#include "common/media/pdi.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace medvault::cli {
namespace {

bool ValidUtf8Text(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    const int extra = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool LooksLikeHl7v2(absl::string_view s) {
  // "MSH|^~\&|...": the field separator is the 4th byte, four encoding characters follow.
  if (s.size() < 8 || !absl::StartsWith(s, "MSH")) return false;
  const char sep = s[3];
  if (absl::ascii_isalnum(static_cast<unsigned char>(sep)) || sep == '\r' || sep == '\n') {
    return false;
  }
  // Then four (five from v2.7) encoding characters and the next field.
  const size_t next = s.find(sep, 4);
  return next == 8 || next == 9;
}

OFCondition Put(DcmItem* item, const DcmTagKey& tag, const std::string& value) {
  return item->putAndInsertString(tag, value.c_str());
}

}  // namespace

std::optional<DocumentType> ParseDocumentType(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "pdf") return DocumentType::kPdf;
  if (n == "cda") return DocumentType::kCda;
  if (n == "ccr") return DocumentType::kCcr;
  if (n == "hl7v2" || n == "hl7") return DocumentType::kHl7v2;
  if (n == "rtf") return DocumentType::kRtf;
  if (n == "text" || n == "txt") return DocumentType::kText;
  return std::nullopt;
}

absl::string_view DocumentTypeName(DocumentType type) {
  switch (type) {
    case DocumentType::kPdf:
      return "pdf";
    case DocumentType::kCda:
      return "cda";
    case DocumentType::kCcr:
      return "ccr";
    case DocumentType::kHl7v2:
      return "hl7v2";
    case DocumentType::kRtf:
      return "rtf";
    case DocumentType::kText:
      return "text";
  }
  return "";
}

absl::string_view DocumentMediaType(DocumentType type) {
  switch (type) {
    case DocumentType::kPdf:
      return "application/pdf";
    case DocumentType::kCda:
      return "text/XML";
    case DocumentType::kCcr:
      return "application/x-ccr+xml";
    case DocumentType::kHl7v2:
      return "x-application/hl7-v2+er7";
    case DocumentType::kRtf:
      return "text/rtf";
    case DocumentType::kText:
      return "text/plain";
  }
  return "";
}

absl::string_view DocumentSopClass(DocumentType type) {
  switch (type) {
    case DocumentType::kPdf:
      return UID_EncapsulatedPDFStorage;
    case DocumentType::kCda:
      return UID_EncapsulatedCDAStorage;
    default:
      return kPrivateEncapsulatedDocumentClass;
  }
}

absl::Status CheckDocument(DocumentType type, absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("the document is empty");
  bool ok = false;
  const char* expected = "";
  switch (type) {
    case DocumentType::kPdf:
      ok = LooksLikePdf(bytes);
      expected = "a PDF file (no %PDF- header)";
      break;
    case DocumentType::kCda:
      ok = XmlRootElement(bytes) == "ClinicalDocument";
      expected = "an HL7 CDA document (XML with a ClinicalDocument root element)";
      break;
    case DocumentType::kCcr:
      ok = XmlRootElement(bytes) == "ContinuityOfCareRecord";
      expected = "an ASTM CCR document (XML with a ContinuityOfCareRecord root element)";
      break;
    case DocumentType::kHl7v2:
      ok = LooksLikeHl7v2(bytes);
      expected = "an HL7 v2 message (starting with an MSH segment)";
      break;
    case DocumentType::kRtf:
      ok = absl::StartsWith(bytes, "{\\rtf");
      expected = "an RTF document (starting with {\\rtf)";
      break;
    case DocumentType::kText:
      ok = ValidUtf8Text(bytes);
      expected = "plain UTF-8 text (no NUL or control bytes)";
      break;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the file is not ", expected, "; its --type is ", DocumentTypeName(type)));
}

absl::StatusOr<DocumentType> GuessDocumentType(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("the document is empty");
  for (DocumentType type : {DocumentType::kPdf, DocumentType::kRtf, DocumentType::kHl7v2,
                            DocumentType::kCda, DocumentType::kCcr, DocumentType::kText}) {
    if (CheckDocument(type, bytes).ok()) return type;
  }
  return absl::InvalidArgumentError(
      "the file is none of PDF, CDA, CCR, HL7 v2, RTF or plain text; give --type to say which");
}

absl::StatusOr<std::string> EncapsulateDocument(DocumentType type, absl::string_view bytes,
                                                const DocumentContext& context) {
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  const v1::InstanceTags& s = context.study;
  const std::string sop_class(DocumentSopClass(type));
  OFCondition c;
  const auto put = [&](const DcmTagKey& tag, const std::string& value) {
    if (c.good()) c = Put(ds, tag, value);
  };
  // Patient and General Study modules: from the index.
  put(DCM_SpecificCharacterSet, "ISO_IR 192");
  put(DCM_PatientName, s.patient_name());
  put(DCM_PatientID, s.patient_id());
  put(DCM_PatientBirthDate, s.patient_birth_date());
  put(DCM_PatientSex, s.patient_sex());
  put(DCM_StudyInstanceUID, s.study_uid());
  put(DCM_StudyDate, s.study_date());
  put(DCM_StudyTime, s.study_time());
  put(DCM_StudyDescription, s.study_description());
  put(DCM_AccessionNumber, s.accession_number());
  put(DCM_ReferringPhysicianName, "");
  put(DCM_StudyID, "");
  // Encapsulated Document Series, SC Equipment, Encapsulated Document and SOP Common modules.
  put(DCM_Modality, "DOC");
  put(DCM_SeriesInstanceUID, context.series_uid);
  put(DCM_SeriesNumber, "9001");
  put(DCM_ConversionType, "WSD");
  put(DCM_Manufacturer, "");
  put(DCM_InstanceNumber, "1");
  put(DCM_ContentDate, context.content_date);
  put(DCM_ContentTime, context.content_time);
  put(DCM_AcquisitionDateTime, "");
  put(DCM_BurnedInAnnotation, "YES");
  put(DCM_DocumentTitle, context.title);
  put(DCM_MIMETypeOfEncapsulatedDocument, std::string(DocumentMediaType(type)));
  put(DCM_SOPClassUID, sop_class);
  put(DCM_SOPInstanceUID, context.sop_instance_uid);
  if (c.good()) c = ds->insertEmptyElement(DCM_ConceptNameCodeSequence);
  if (c.good()) c = ds->putAndInsertUint32(DCM_EncapsulatedDocumentLength, bytes.size());
  if (c.good()) {
    // OB of even length: an odd document gets one NUL of padding, which (0042,0015) excludes.
    std::string padded(bytes);
    if (padded.size() % 2 == 1) padded.push_back('\0');
    c = ds->putAndInsertUint8Array(DCM_EncapsulatedDocument,
                                   reinterpret_cast<const Uint8*>(padded.data()), padded.size());
  }
  if (c.bad()) return absl::InternalError(absl::StrCat("building the instance: ", c.text()));

  std::string out;
  std::string buffer(64 * 1024, '\0');
  DcmOutputBufferStream stream(buffer.data(), buffer.size());
  file.transferInit();
  for (;;) {
    c = file.write(stream, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr);
    void* data = nullptr;
    offile_off_t length = 0;
    stream.flushBuffer(data, length);
    out.append(static_cast<const char*>(data), static_cast<size_t>(length));
    if (c != EC_StreamNotifyClient) break;
  }
  file.transferEnd();
  if (c.bad()) return absl::InternalError(absl::StrCat("writing the instance: ", c.text()));
  return out;
}

absl::StatusOr<std::string> ExtractDocument(absl::string_view part10) {
  absl::StatusOr<media::EncapsulatedDocument> document = media::ReadEncapsulatedDocument(part10);
  if (!document.ok()) return document.status();
  return std::move(document->bytes);
}

}  // namespace medvault::cli
