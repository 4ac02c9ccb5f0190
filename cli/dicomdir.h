// What `import` stores from a medium (a folder, a mounted disc, a ZIP file or an ISO image): the
// instances its DICOMDIR references (read with DCMTK's DcmDicomDir), or, without a DICOMDIR,
// every file (the reader then skips files that are not DICOM Part 10). Pure planning functions
// apart from ReadDicomDir, so the rules are unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::cli {

// A regular file of the medium.
struct MediumFile {
  std::string path;  // relative to the medium's root, '/'-separated, as the medium spells it
  uint64_t size = 0;
};

// One file a DICOMDIR references (a leaf record: IMAGE, SR DOCUMENT, ENCAP DOC, ...).
struct DicomDirRef {
  std::string file_id;           // (0004,1500) components joined by '/', relative to the DICOMDIR
  std::string sop_instance_uid;  // (0004,1511); may be empty
  std::string study_uid;         // (0020,000D) of the enclosing STUDY record; may be empty
};

// Reads the DICOMDIR file at `path` and lists every record with a Referenced File ID, depth
// first in the directory's order. Errors: INVALID_ARGUMENT when DCMTK cannot read it as a
// DICOMDIR (naming DCMTK's reason, never a value from the file).
absl::StatusOr<std::vector<DicomDirRef>> ReadDicomDir(const std::string& path);

// The key two spellings of one medium path are compared by: ISO 9660 names may carry a version
// (";1") or a trailing '.', discs are written upper-case, File IDs use '\' on some media:
// "dicom/st000000/IM000001.;1" and "DICOM\ST000000\IM000001" give the same key.
std::string MediumKey(absl::string_view path);

// The DICOMDIR to read: the file named DICOMDIR nearest the root (fewest folders; then by path).
std::optional<size_t> FindDicomDir(const std::vector<MediumFile>& files);

struct ImportItem {
  std::string path;  // as in MediumFile
  uint64_t size = 0;
  std::string sop_instance_uid;  // from the DICOMDIR; empty when scanning
  std::string study_uid;         // likewise
  // Not referenced by the DICOMDIR (a document's instance under DOCUMENT/): sent only when it is
  // DICOM Part 10, as a scanned file is.
  bool unlisted = false;
};

struct ImportPlan {
  bool from_dicomdir = false;
  std::vector<ImportItem> items;     // to store, in the medium's order
  std::vector<std::string> missing;  // File IDs the DICOMDIR references but the medium lacks
  uint64_t ignored = 0;              // other files (the DICOMDIR itself, viewers, README...)
};

// The files `refs` reference, the DICOMDIR being files[dicomdir]: a File ID is looked up in the
// DICOMDIR's folder. A file referenced twice is stored once. Also, as `unlisted` items, the
// `.DCM` files under DOCUMENT/ beside the DICOMDIR: the stored instances of the documents DICOM
// has no class for, which `medvault export` writes there because the DICOMDIR cannot list them.
ImportPlan PlanFromDicomDir(const std::vector<MediumFile>& files, size_t dicomdir,
                            const std::vector<DicomDirRef>& refs);

// Every file but the DICOMDIR(s).
ImportPlan PlanScan(const std::vector<MediumFile>& files);

// True when `head` (a file's first bytes, at least 132 of them) is a DICOM Part 10 file: "DICM"
// after the 128-byte preamble.
bool LooksLikeDicom(absl::string_view head);

}  // namespace medvault::cli
