// The frontend's own check of Encapsulated PDF and Encapsulated CDA instances (issue 19): whoever
// stores one (the CLI's `attach`, any gRPC, DIMSE or DICOMweb client), its document must be what
// its SOP class and (0042,0012) MIME Type of Encapsulated Document say. Other instances pass.
#pragma once

#include <cstddef>

#include "absl/status/status.h"

class DcmItem;

namespace medvault::frontend {

// The check reads at most the document's first bytes (the PDF header is in its first 1024, a CDA's
// root element follows a short prolog), so a parser may keep only these of a long document.
inline constexpr size_t kDocumentHeadBytes = 64 << 10;

// INVALID_ARGUMENT naming the attribute (never its value) when an Encapsulated PDF instance's MIME
// type is not application/pdf or its (0042,0011) Encapsulated Document has no %PDF- header, or an
// Encapsulated CDA instance's MIME type is not text/XML or its document is not XML with a
// ClinicalDocument root element (its start tag closed within the first kDocumentHeadBytes). The
// document is read with getPartialValue, so a value the parser skipped and kept only the first
// bytes of is checked by them. OK for every other SOP class.
absl::Status CheckEncapsulatedDocument(DcmItem* dataset);

}  // namespace medvault::frontend
