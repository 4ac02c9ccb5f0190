// The frontend's own check of Encapsulated PDF and Encapsulated CDA instances (issue 19): whoever
// stores one (the CLI's `attach`, any gRPC, DIMSE or DICOMweb client), its document must be what
// its SOP class and (0042,0012) MIME Type of Encapsulated Document say. Other instances pass.
#pragma once

#include "absl/status/status.h"

class DcmItem;

namespace medvault::frontend {

// INVALID_ARGUMENT naming the attribute (never its value) when an Encapsulated PDF instance's MIME
// type is not application/pdf or its (0042,0011) Encapsulated Document has no %PDF- header, or an
// Encapsulated CDA instance's MIME type is not text/XML or its document is not XML with a
// ClinicalDocument root element. OK for every other SOP class.
absl::Status CheckEncapsulatedDocument(DcmItem* dataset);

}  // namespace medvault::frontend
