#include "frontend/core/encapsulated_check.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/document_content.h"

namespace medvault::frontend {

absl::Status CheckEncapsulatedDocument(DcmItem* dataset) {
  OFString sop_class;
  dataset->findAndGetOFString(DCM_SOPClassUID, sop_class);
  const bool pdf = sop_class == UID_EncapsulatedPDFStorage;
  const bool cda = sop_class == UID_EncapsulatedCDAStorage;
  if (!pdf && !cda) return absl::OkStatus();
  const char* kind = pdf ? "Encapsulated PDF" : "Encapsulated CDA";
  OFString mime;
  dataset->findAndGetOFString(DCM_MIMETypeOfEncapsulatedDocument, mime);
  if (absl::AsciiStrToLower(mime.c_str()) != (pdf ? "application/pdf" : "text/xml")) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " instance: (0042,0012) MIME Type of Encapsulated Document is not ",
                     pdf ? "application/pdf" : "text/XML"));
  }
  DcmElement* element = nullptr;
  if (dataset->findAndGetElement(DCM_EncapsulatedDocument, element).bad() || element == nullptr ||
      element->getLength() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " instance: (0042,0011) Encapsulated Document is missing or empty"));
  }
  Uint32 length = element->getLength();
  // (0042,0015) Encapsulated Document Length, when given, cuts the even-length padding.
  Uint32 declared = 0;
  if (dataset->findAndGetUint32(DCM_EncapsulatedDocumentLength, declared).good() &&
      declared <= length) {
    length = declared;
  }
  std::string document(std::min<size_t>(length, kDocumentHeadBytes), '\0');
  if (!document.empty() && element->getPartialValue(document.data(), 0, document.size()).bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " instance: (0042,0011) Encapsulated Document cannot be read"));
  }
  if (pdf ? !LooksLikePdf(document) : XmlRootElement(document) != "ClinicalDocument") {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " instance: (0042,0011) Encapsulated Document is not ",
                     pdf ? "a PDF (no %PDF- header)"
                         : "an HL7 CDA document (XML with a ClinicalDocument root element)"));
  }
  return absl::OkStatus();
}

}  // namespace medvault::frontend
