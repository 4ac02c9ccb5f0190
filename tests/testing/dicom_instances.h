// Many distinct DICOM instances from one real file, for load tests: each copy gets a new SOP
// Instance UID (in the dataset and the file meta header), rewritten by DCMTK, so every put stores
// a different instance with the same shape as a real one.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace medvault::testing {

class DicomInstanceFactory {
 public:
  // `template_bytes` must be a Part 10 file DCMTK reads (e.g. pydicom's CT_small.dcm).
  explicit DicomInstanceFactory(std::string template_bytes)
      : template_(std::move(template_bytes)) {}

  // The template re-encoded (same transfer syntax) with SOP Instance UID `uid`. INVALID_ARGUMENT
  // when the template is unreadable or `uid` is not a valid UID. Thread-safe.
  absl::StatusOr<std::string> WithSopInstanceUid(const std::string& uid) const {
    return WithUids(uid, "", "");
  }
  // Likewise, also moved to study `study_uid` and series `series_uid` (each kept when empty), so
  // a test can fill several studies from one template.
  absl::StatusOr<std::string> WithUids(const std::string& sop_uid, const std::string& study_uid,
                                       const std::string& series_uid) const;

 private:
  const std::string template_;
};

}  // namespace medvault::testing
