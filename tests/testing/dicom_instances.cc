#include "tests/testing/dicom_instances.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcostrmb.h>

#include "absl/strings/str_cat.h"

namespace medvault::testing {

absl::StatusOr<std::string> DicomInstanceFactory::WithUids(const std::string& uid,
                                                           const std::string& study_uid,
                                                           const std::string& series_uid) const {
  DcmInputBufferStream in;
  in.setBuffer(template_.data(), static_cast<offile_off_t>(template_.size()));
  in.setEos();
  DcmFileFormat file;
  file.transferInit();
  OFCondition cond = file.read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file.transferEnd();
  if (cond.bad())
    return absl::InvalidArgumentError(absl::StrCat("template is not DICOM: ", cond.text()));
  DcmDataset* dataset = file.getDataset();
  cond = dataset->putAndInsertString(DCM_SOPInstanceUID, uid.c_str());
  if (cond.good())
    cond = file.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, uid.c_str());
  if (cond.bad())
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set the SOP Instance UID: ", cond.text()));
  if (!study_uid.empty())
    cond = dataset->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  if (cond.good() && !series_uid.empty())
    cond = dataset->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
  if (cond.bad())
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set the study or series UID: ", cond.text()));

  const E_TransferSyntax xfer = dataset->getOriginalXfer();
  // Room for the preamble, the meta header and the (longer) UID; write() fails if it is short.
  std::string out(template_.size() + 64 * 1024, '\0');
  DcmOutputBufferStream stream(out.data(), static_cast<offile_off_t>(out.size()));
  file.transferInit();
  cond =
      file.write(stream, xfer, EET_ExplicitLength, /*wcache=*/nullptr, EGL_recalcGL, EPD_noChange,
                 /*padlen=*/0, /*subPadlen=*/0, /*instanceLength=*/0, EWM_updateMeta);
  file.transferEnd();
  if (cond.bad())
    return absl::InternalError(absl::StrCat("cannot encode the instance: ", cond.text()));
  void* written = nullptr;
  offile_off_t length = 0;
  stream.flushBuffer(written, length);
  out.resize(static_cast<size_t>(length));
  return out;
}

}  // namespace medvault::testing
