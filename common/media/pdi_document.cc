// Documents DICOM has no SOP class for (HL7 v2, RTF, text, CCR) go onto a PDI medium as their
// original files, taken out of the private Encapsulated Document instance `medvault attach` made.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/media/pdi.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmb.h"

namespace medvault::media {

absl::StatusOr<EncapsulatedDocument> ReadEncapsulatedDocument(absl::string_view part10) {
  DcmInputBufferStream stream;
  stream.setBuffer(part10.data(), part10.size());
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  OFCondition c = file.read(stream);
  file.transferEnd();
  if (c.bad()) return absl::InvalidArgumentError(absl::StrCat("not a DICOM instance: ", c.text()));
  DcmDataset* ds = file.getDataset();
  const Uint8* data = nullptr;
  unsigned long size = 0;
  if (ds->findAndGetUint8Array(DCM_EncapsulatedDocument, data, &size).bad() || data == nullptr) {
    return absl::InvalidArgumentError("the instance holds no encapsulated document (0042,0011)");
  }
  // DICOM pads an odd length with one byte; (0042,0015) keeps the exact one.
  Uint32 length = 0;
  if (ds->findAndGetUint32(DCM_EncapsulatedDocumentLength, length).good() && length <= size) {
    size = length;
  }
  EncapsulatedDocument out;
  out.bytes.assign(reinterpret_cast<const char*>(data), size);
  OFString media_type;
  ds->findAndGetOFString(DCM_MIMETypeOfEncapsulatedDocument, media_type);
  out.media_type = media_type.c_str();
  return out;
}

std::string DocumentExtension(absl::string_view media_type) {
  const std::string m = absl::AsciiStrToLower(media_type);
  if (m == "text/plain") return "TXT";
  if (m == "text/rtf" || m == "application/rtf") return "RTF";
  if (m == "x-application/hl7-v2+er7" || m == "application/hl7-v2") return "HL7";
  if (m == "application/pdf") return "PDF";
  if (m == "text/xml" || m == "application/xml" || m == "application/x-ccr+xml") return "XML";
  return "BIN";
}

}  // namespace medvault::media
