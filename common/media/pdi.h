// An IHE Portable Data for Imaging (PDI) file set, as PS3.10/PS3.11/PS3.12 and IHE RAD TF-1 18
// describe it, written to a MediaSink (a folder, a ZIP, an ISO 9660 image, a ZIP streamed over
// HTTP):
//   DICOMDIR                          built with DCMTK's DicomDirInterface
//   DICOM/STnnnnnn/SEnnnnnn/IMnnnnnn  each instance byte for byte as stored (ISO 9660 level 1
//                                     names: 8 upper-case characters, no extension)
//   README.TXT, INDEX.HTM             what the medium holds, in words and as a page (XHTML)
//   IHE_PDI/STnnnnnn.HTM              an XHTML page per study: its series, their renderings, links
//                                     to the viewer and the documents (common/media/pdi_text.cc)
//   IHE_PDI/STnnnnnn/SEnnnnnn.JPG     a JPEG rendering of each series DCMTK can render, shown
//                                     by INDEX.HTM (common/media/pdi_render.cc)
//   DOCUMENT/STnnnnnn/SEnnnnnn/IMnnnnnn.EXT
//                                     documents DICOM has no class for (HL7 v2, RTF, text, CCR,
//                                     stored by `medvault attach` under medvault's private class),
//                                     as their original files (common/media/pdi_document.cc)
//   DOCUMENT/STnnnnnn/SEnnnnnn/IMnnnnnn.DCM
//                                     each such document's stored instance, byte for byte, which
//                                     `medvault import` reads back (the DICOMDIR cannot list it)
//   VIEWER/VIEWER.HTM, VIEWER.JS ...  the offline viewer (dwv), when PdiOptions::viewer_dir is set,
//   VIEWER/STnnnnnn/SEnnnnnn/IMnnnnnn.JS
//                                     with each image as a script it can load from file://
//                                     (common/media/pdi_viewer.cc, frontend/web/page/disc/)
// Used by `medvault export` and by the share page's download. Instances are streamed one at a time
// (a scratch copy of the instance being added, for DCMTK, which reads only files, is deleted as
// soon as it is on the medium), so a study of any size never sits in memory.
//
// The application profile is the narrowest general-purpose one DCMTK accepts for every transfer
// syntax the instances are stored in (they are never transcoded: the medium gives back the
// stored bytes): STD-GEN-CD for Explicit VR Little Endian only; STD-GEN-DVD-JPEG when JPEG
// baseline/extended/lossless appears; STD-GEN-DVD-J2K with JPEG 2000; STD-GEN-MIME (which DCMTK
// accepts for any transfer syntax) otherwise, e.g. for Implicit VR, RLE or JPEG-LS.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/media/media_sink.h"

namespace medvault::media {

// What the file set's index pages show of an instance, and how to order it. All but the UIDs and
// the size may be empty or 0.
struct PdiInstance {
  std::string study_uid;
  std::string series_uid;
  std::string sop_instance_uid;
  std::string transfer_syntax_uid;
  uint64_t size = 0;  // bytes, as stored
  std::string patient_name;
  std::string patient_id;
  std::string patient_birth_date;
  std::string study_date;
  std::string study_description;
  std::string modality;
  std::string series_description;
  int32_t series_number = 0;
  int32_t instance_number = 0;
  std::string sop_class_uid;  // kPrivateEncapsulatedDocumentClass: a document, not a DICOM file
  bool image = false;         // has Rows (0028,0010): the viewer can show it
};

// A document written as its original file (DOCUMENT/...), for the pages that list it.
struct PdiDocument {
  std::string path;        // on the medium
  std::string dicom_path;  // its stored DICOM instance on the medium (IMnnnnnn.DCM), for import
  std::string media_type;
  uint64_t bytes = 0;
  std::string study_folder;  // "STnnnnnn"
};

enum class PdiProfile { kGeneralPurposeCd, kDvdJpeg, kDvdJpeg2000, kMime };

// The narrowest profile (above) that accepts every one of `transfer_syntaxes`.
PdiProfile ChooseProfile(const std::vector<std::string>& transfer_syntaxes);
// "STD-GEN-CD", "STD-GEN-DVD-JPEG", "STD-GEN-DVD-J2K", "STD-GEN-MIME".
absl::string_view ProfileName(PdiProfile profile);

// "DICOM/ST000001/SE000002/IM000003" for the 1st study, 2nd series, 3rd instance (1-based).
std::string PdiFileId(int study, int series, int instance);

// Streams the bytes of instances[index] into `write`, piece by piece.
using WriteFn = std::function<absl::Status(absl::string_view piece)>;
using InstanceSource = std::function<absl::Status(size_t index, const WriteFn& write)>;

struct PdiOptions {
  // Where the scratch copy of the instance being added and the DICOMDIR are made (a private
  // 0700 folder inside it, removed at the end). The frontend passes a RAM-backed /dev/shm.
  std::string scratch_dir = "/tmp";
  // (0004,1130) File-set ID: at most 16 upper-case characters, digits, '_', ' '.
  std::string fileset_id = "MEDVAULT";
  // JPEG renderings of the series (a few milliseconds each).
  bool renderings = true;
  // The built offline viewer (VIEWER.HTM, VIEWER.JS, WORKERS.JS: build/disc-viewer): its files go
  // to VIEWER/, and every instance of a series whose instances are all images also as a script
  // (4/3 of its size). Empty: no viewer.
  std::string viewer_dir;
  // Called after each instance is on the medium with its size, e.g. for a progress bar.
  std::function<void(uint64_t bytes)> on_instance;
};

struct PdiSummary {
  PdiProfile profile = PdiProfile::kGeneralPurposeCd;
  uint64_t instances = 0;
  uint64_t bytes = 0;      // of the instances
  uint64_t documents = 0;  // written as their original files under DOCUMENT/
};

// Writes the file set of `instances` (any order: it is sorted by study, series number, series,
// instance number, SOP Instance UID) to `sink` and closes it. Errors: INVALID_ARGUMENT when there
// is nothing to write or DCMTK refuses an instance for the DICOMDIR (naming its file on the
// medium, never a value from it); DATA_LOSS when `source` gives another size than announced;
// `source`'s and `sink`'s errors otherwise. A failed write leaves a partial medium.
absl::StatusOr<PdiSummary> WritePdi(std::vector<PdiInstance> instances,
                                    const InstanceSource& source, MediaSink& sink,
                                    const PdiOptions& options = {});

// The text files of the medium (common/media/pdi_text.cc), given the instances in medium order
// and their file ids.
// Documents are not in `instances`; their pages list them from `documents`.
std::string PdiReadme(const std::vector<PdiInstance>& instances,
                      const std::vector<std::string>& file_ids, PdiProfile profile,
                      const std::vector<PdiDocument>& documents = {});

// What the XHTML pages link to besides the DICOM files.
struct PdiLinks {
  // Series folder ("DICOM/ST000001/SE000001") -> its JPEG on the medium.
  std::map<std::string, std::string> renderings;
  // Series folder -> "VIEWER/VIEWER.HTM#ST000001/SE000001/N" for series the viewer can show.
  std::map<std::string, std::string> viewer;
  std::vector<PdiDocument> documents;
};
// INDEX.HTM (links relative to the root) and IHE_PDI/STnnnnnn.HTM of the 1-based `study`: XHTML
// 1.0 Strict, well-formed XML, no script, nothing off the medium.
std::string PdiIndexHtml(const std::vector<PdiInstance>& instances,
                         const std::vector<std::string>& file_ids, const PdiLinks& links = {});
std::string PdiStudyPage(const std::vector<PdiInstance>& instances,
                         const std::vector<std::string>& file_ids, const PdiLinks& links,
                         int study);

// "IHE_PDI/ST000001/SE000002.JPG" for the series of file id "DICOM/ST000001/SE000002/IM000003".
std::string RenderingPath(const std::string& file_id);

// Writes a JPEG rendering of the DICOM image at `dicom_path` (common/media/pdi_render.cc).
// FAILED_PRECONDITION when DCMTK cannot render it (not an image, JPEG 2000).
absl::Status RenderJpeg(const std::string& dicom_path, const std::string& jpeg_path);

// The document an Encapsulated Document instance at `dicom_path` holds (common/media/
// pdi_document.cc): (0042,0011) cut to (0042,0015), its media type (0042,0012).
// INVALID_ARGUMENT when it is no such instance.
struct EncapsulatedDocument {
  std::string bytes;
  std::string media_type;
};
absl::StatusOr<EncapsulatedDocument> ReadEncapsulatedDocument(absl::string_view part10);
// "TXT", "RTF", "HL7", "XML", "PDF" for a media type; "BIN" for others.
std::string DocumentExtension(absl::string_view media_type);

// The viewer's files (common/media/pdi_viewer.cc): every file of `viewer_dir` to VIEWER/; the
// instance at `dicom_path` (file id `file_id`) as VIEWER/STnnnnnn/SEnnnnnn/IMnnnnnn.JS.
absl::Status AddViewer(const std::string& viewer_dir, MediaSink& sink);
// Where the built viewer is installed (the folder holding VIEWER.HTM), for `medvault export` and
// the frontend's share download alike: $MEDVAULT_VIEWER_DIR when set; else disc-viewer/ beside the
// folder of the running executable (build/bin/medvault -> build/disc-viewer; in the container
// image /usr/local/bin/frontend -> /usr/local/disc-viewer); else /usr/share/medvault/disc-viewer.
// FAILED_PRECONDITION, naming the first place looked at, when none holds it.
absl::StatusOr<std::string> FindViewerDir();
absl::Status AddViewerScript(const std::string& dicom_path, const std::string& file_id,
                             MediaSink& sink);

}  // namespace medvault::media
