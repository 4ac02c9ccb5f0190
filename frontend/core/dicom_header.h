// An instance's header for WADO-RS /metadata: its data set without the bulk values, captured at
// put from the data set the put already parsed, kept in the metaserver's instance row, and turned
// into DICOM JSON (PS3.18 F.2) with DCMTK's JSON writer, each left-out value given as a
// BulkDataURI. The same file locates a bulk value in the stored object for /bulkdata.
//
// Bulk values: Pixel Data (7FE0,0010), Float and Double Float Pixel Data whenever they hold a
// value, and any other OB, OD, OF, OL, OW or UN value longer than kBulkThresholdBytes. A header
// whose data set would exceed kMaxHeaderDatasetBytes is not kept (the door then reads the object).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

class DcmItem;

namespace medvault::frontend {

inline constexpr size_t kBulkThresholdBytes = 1024;
inline constexpr size_t kMaxHeaderDatasetBytes = 64 << 10;

// The header of `dataset` (DCMTK's, as parsed), or nullopt when it exceeds
// kMaxHeaderDatasetBytes. INTERNAL when DCMTK cannot encode it.
absl::StatusOr<std::optional<v1::InstanceHeader>> CaptureHeader(DcmItem* dataset);

// The header of a complete stored Part 10 file (instances stored before headers were kept), with
// no size cap. INVALID_ARGUMENT when DCMTK cannot read it.
absl::StatusOr<v1::InstanceHeader> CaptureHeaderFromFile(absl::string_view file);

// The header as one DICOM JSON object ("{...}"), each bulk value as
// "BulkDataURI": `bulk_base` + "/" + its tag path. DATA_LOSS when the stored data set does not
// parse; INTERNAL when DCMTK's writer did not place every bulk reference.
absl::StatusOr<std::string> HeaderToDicomJson(const v1::InstanceHeader& header,
                                              absl::string_view bulk_base);

// The value at `tag_path` ("7FE00010", "54000100/0/54001010") of a complete Part 10 file: the
// value bytes as DICOM JSON's InlineBinary would carry them (little endian); for encapsulated
// Pixel Data, its fragments after the Basic Offset Table, concatenated. INVALID_ARGUMENT for a
// malformed path, NOT_FOUND when the file has no such value.
absl::StatusOr<std::string> BulkValue(absl::string_view file, absl::string_view tag_path);

}  // namespace medvault::frontend
