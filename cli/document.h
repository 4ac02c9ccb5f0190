// Documents that travel with images (issue 19): PDF, CDA, CCR, HL7 v2, RTF, plain text. Each is
// stored as one DICOM Encapsulated Document instance of the study it belongs to, built here with
// DCMTK from the study's patient and study attributes as the index holds them: PDF and CDA as the
// standard Encapsulated PDF / Encapsulated CDA SOP classes (so they travel over DIMSE, DICOMweb and
// discs), the others under medvault's private Encapsulated Document SOP class with their media
// type in (0042,0012). The original bytes are in (0042,0011) and their exact length in (0042,0015),
// so ExtractDocument gives the file back byte for byte. Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/document_content.h"
#include "medvault/v1/common.pb.h"

namespace medvault::cli {

enum class DocumentType { kPdf, kCda, kCcr, kHl7v2, kRtf, kText };

// medvault's private SOP class for documents DICOM has no class for:
// kPrivateEncapsulatedDocumentClass (common/document_content.h).

// "pdf", "cda", "ccr", "hl7v2", "rtf", "text" -> the type; nullopt for anything else.
std::optional<DocumentType> ParseDocumentType(absl::string_view name);
absl::string_view DocumentTypeName(DocumentType type);
// application/pdf, text/XML (as DICOM writes it for CDA), application/x-ccr+xml,
// x-application/hl7-v2+er7, text/rtf, text/plain.
absl::string_view DocumentMediaType(DocumentType type);
// The SOP Class UID the type is stored under.
absl::string_view DocumentSopClass(DocumentType type);

// Checks that `bytes` are what `type` says: a PDF header; an XML document whose root element is
// ClinicalDocument (CDA) or ContinuityOfCareRecord (CCR); an HL7 v2 message starting with an MSH
// segment; "{\rtf"; UTF-8 text without NUL or other control characters than tab, CR, LF, FF.
// INVALID_ARGUMENT (saying what was expected) otherwise, and for an empty file.
absl::Status CheckDocument(DocumentType type, absl::string_view bytes);

// The type `bytes` look like, in the order PDF, RTF, HL7 v2, CDA/CCR, text. INVALID_ARGUMENT when
// none fits (or the file is empty).
absl::StatusOr<DocumentType> GuessDocumentType(absl::string_view bytes);

// What an encapsulated document needs besides its bytes.
struct DocumentContext {
  v1::InstanceTags study;        // patient and study attributes (one stored instance's tags)
  std::string title;             // (0042,0010), e.g. the file's name
  std::string sop_instance_uid;  // new UIDs for the instance and its series
  std::string series_uid;
  std::string content_date;  // YYYYMMDD
  std::string content_time;  // HHMMSS
};

// A DICOM Part 10 file (explicit VR little endian) of the Encapsulated Document IOD holding
// `bytes`. REQUIRES: CheckDocument(type, bytes) is OK.
absl::StatusOr<std::string> EncapsulateDocument(DocumentType type, absl::string_view bytes,
                                                const DocumentContext& context);

// The document an Encapsulated Document instance holds, byte-exact: (0042,0011) cut to
// (0042,0015) when present (DICOM pads odd lengths with one byte). INVALID_ARGUMENT when `part10`
// is not such an instance.
absl::StatusOr<std::string> ExtractDocument(absl::string_view part10);

}  // namespace medvault::cli
