// Reads the index attributes of a DICOM instance from its bytes with DCMTK. The frontend calls it
// on every put, before anything is written, to refuse what is not DICOM.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

namespace medvault::frontend {

// Parses a DICOM Part 10 file (or a bare dataset DCMTK can read) and returns the attributes the
// index needs. Large values (pixel data) are not loaded. INVALID_ARGUMENT when DCMTK cannot read
// the bytes, or when Study, Series or SOP Instance UID is missing. Messages never quote
// attribute values (they are PHI).
absl::StatusOr<v1::InstanceTags> ParseDicomHeader(absl::string_view bytes);

}  // namespace medvault::frontend
