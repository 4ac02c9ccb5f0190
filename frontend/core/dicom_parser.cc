#include "frontend/core/dicom_parser.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace medvault::frontend {
namespace {

// Values longer than this are skipped while parsing: the index needs none of them.
constexpr Uint32 kMaxValueBytesToLoad = 4096;

void QuietDcmtkLogging() {
  static std::once_flag once;
  // DCMTK's own log lines can quote attribute values; keep them out of our logs.
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

std::string GetString(DcmItem* item, const DcmTagKey& tag) {
  OFString value;
  if (item->findAndGetOFStringArray(tag, value).bad()) return "";
  // DCMTK strips padding; remove any embedded NUL that a broken file could carry.
  std::string s(value.c_str(), value.length());
  s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());
  return s;
}

int32_t GetInt(DcmItem* item, const DcmTagKey& tag) {
  Sint32 v = 0;
  if (item->findAndGetSint32(tag, v).good()) return v;
  // IS values sometimes fail strict conversion; parse leniently.
  std::string s = GetString(item, tag);
  char* end = nullptr;
  long parsed = std::strtol(s.c_str(), &end, 10);
  return (end != s.c_str()) ? static_cast<int32_t>(parsed) : 0;
}

}  // namespace

absl::StatusOr<v1::InstanceTags> ParseDicomHeader(absl::string_view bytes) {
  QuietDcmtkLogging();
  if (bytes.empty()) return absl::InvalidArgumentError("not DICOM: empty input");
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  OFCondition cond = file.read(stream, EXS_Unknown, EGL_noChange, kMaxValueBytesToLoad);
  file.transferEnd();
  if (cond.bad()) {
    // DCMTK condition texts are generic ("Invalid stream", "premature end of stream"): no PHI.
    return absl::InvalidArgumentError(absl::StrCat("not a readable DICOM instance (DCMTK: ", cond.text(), ")"));
  }
  DcmDataset* ds = file.getDataset();
  DcmMetaInfo* meta = file.getMetaInfo();

  v1::InstanceTags tags;
  tags.set_study_uid(GetString(ds, DCM_StudyInstanceUID));
  tags.set_series_uid(GetString(ds, DCM_SeriesInstanceUID));
  tags.set_sop_instance_uid(GetString(ds, DCM_SOPInstanceUID));
  std::string missing;
  if (tags.study_uid().empty()) absl::StrAppend(&missing, " StudyInstanceUID");
  if (tags.series_uid().empty()) absl::StrAppend(&missing, " SeriesInstanceUID");
  if (tags.sop_instance_uid().empty()) absl::StrAppend(&missing, " SOPInstanceUID");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("DICOM instance lacks required attributes:", missing));
  }
  tags.set_patient_id(GetString(ds, DCM_PatientID));
  tags.set_patient_name(GetString(ds, DCM_PatientName));
  tags.set_patient_birth_date(GetString(ds, DCM_PatientBirthDate));
  tags.set_patient_sex(GetString(ds, DCM_PatientSex));
  tags.set_study_date(GetString(ds, DCM_StudyDate));
  tags.set_study_time(GetString(ds, DCM_StudyTime));
  tags.set_study_description(GetString(ds, DCM_StudyDescription));
  tags.set_accession_number(GetString(ds, DCM_AccessionNumber));
  tags.set_modality(GetString(ds, DCM_Modality));
  tags.set_series_description(GetString(ds, DCM_SeriesDescription));
  tags.set_series_number(GetInt(ds, DCM_SeriesNumber));
  tags.set_instance_number(GetInt(ds, DCM_InstanceNumber));
  tags.set_sop_class_uid(GetString(ds, DCM_SOPClassUID));
  if (meta != nullptr) tags.set_transfer_syntax_uid(GetString(meta, DCM_TransferSyntaxUID));
  return tags;
}

}  // namespace medvault::frontend
