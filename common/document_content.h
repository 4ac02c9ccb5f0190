// Recognising a document by its bytes: shared by `medvault attach`, which checks a file against its
// type before encapsulating it, and the frontend, which checks the content of every Encapsulated
// PDF and CDA instance it is asked to store.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace medvault {

// medvault's private SOP class for documents DICOM has no class for (CCR, HL7 v2, RTF, text): the
// Encapsulated Document IOD with another media type in (0042,0012). A 2.25 (UUID-derived) UID,
// fixed forever: `medvault attach` stores under it, exports write such documents as plain files.
inline constexpr char kPrivateEncapsulatedDocumentClass[] =
    "2.25.47879059198957408044330829400023511120";

// "%PDF-" within the first 1024 bytes (PDF 1.7, annex H, allows a few bytes before it).
bool LooksLikePdf(absl::string_view bytes);

// The local name of the XML document's root element ("ClinicalDocument" for <hl7:ClinicalDocument
// ...>), skipping a byte-order mark, the declaration, comments, processing instructions and a
// DOCTYPE. Empty when there is none (or the document is cut before any '>').
std::string XmlRootElement(absl::string_view bytes);

}  // namespace medvault
