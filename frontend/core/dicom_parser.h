// Reads the index attributes of a DICOM instance from its bytes with DCMTK. The frontend parses
// every put, as the bytes arrive, to refuse what is not DICOM and to learn the UIDs it places and
// commits the instance under.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "medvault/v1/common.pb.h"

namespace medvault::frontend {

// Sets DCMTK's process-wide options once: its log silenced (it can quote values) and elements
// an explicit-VR file labels UN read by their dictionary VR. Every DCMTK reader here calls it.
void ConfigureDcmtk();

// The identifiers a put needs before it can place chunks.
struct InstanceUids {
  std::string study_uid;
  std::string series_uid;
  std::string sop_instance_uid;
};

// Parses a DICOM Part 10 file fed in pieces of any size, with DCMTK's incremental reader (the one
// DCMTK's network code uses for data sets arriving in PDUs). Values longer than 64 KiB (Pixel
// Data, encapsulated fragments) are skipped and fragments dropped once read, never held: its
// memory does not grow with the file, deflated or not. An Encapsulated PDF or CDA document is
// checked by its first 64 KiB (loaded whole in a deflated data set). Not thread-safe.
class DicomStreamParser {
 public:
  DicomStreamParser();
  ~DicomStreamParser();
  DicomStreamParser(const DicomStreamParser&) = delete;
  DicomStreamParser& operator=(const DicomStreamParser&) = delete;

  // The next bytes of the file. INVALID_ARGUMENT as soon as they cannot be DICOM; after an error
  // every later call fails the same way.
  absl::Status Feed(absl::string_view data);

  // The Study, Series and SOP Instance UIDs once all three have been read. They are final when
  // present: DCMTK keeps the first occurrence of an attribute and ignores repeats. Looking costs a
  // short second parse of the first bytes, so it happens here, when asked, not on every Feed.
  std::optional<InstanceUids> Uids();

  // Ends the file and returns the attributes the index needs. INVALID_ARGUMENT when DCMTK cannot
  // read the whole file (including a truncated one), or when a required UID is missing. Messages
  // never quote attribute values (they are PHI).
  absl::StatusOr<v1::InstanceTags> Finish();

  // After a successful Finish: the data set without its bulk values for the index
  // (dicom_header.h), or nullopt when it is too large to keep or DCMTK cannot encode it (the
  // instance is then answered by reading the object).
  std::optional<v1::InstanceHeader> Header();

 private:
  struct Dcmtk;  // keeps DCMTK's headers out of this one
  // Gives DCMTK's reader the next bytes (`end`: and the end of the file).
  absl::Status Read(absl::string_view data, bool end);
  // Looks for the UIDs in head_.
  void FindUids();

  std::unique_ptr<Dcmtk> dcmtk_;
  // Before the first read, the bytes gathered for it; after, the one byte held back.
  std::string pending_;
  bool started_ = false;   // DCMTK has been given bytes
  std::string head_;       // the first bytes of the file, while the UIDs are not known
  size_t head_tried_ = 0;  // head_'s size at the last look
  std::optional<InstanceUids> uids_;
  uint64_t fed_bytes_ = 0;
  absl::Status error_;
  bool finished_ = false;
};

// Parses a complete file: a DicomStreamParser fed once, then finished.
absl::StatusOr<v1::InstanceTags> ParseDicomHeader(absl::string_view bytes);

}  // namespace medvault::frontend
