#include "frontend/core/dicom_parser.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dctag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "frontend/core/dicom_header.h"
#include "frontend/core/dicom_skipping_stream.h"
#include "frontend/core/encapsulated_check.h"

namespace medvault::frontend {
namespace {

// DCMTK's limit for values loaded while parsing: a longer value (Pixel Data, each fragment of
// encapsulated Pixel Data, any long binary value) is skipped by SkippingStream, never held. A value
// this long could not be in a kept header unless it is bulk (kMaxHeaderDatasetBytes), so skipping
// it loses nothing the index or the header needs.
constexpr Uint32 kMaxValueBytesToLoad = kMaxHeaderDatasetBytes;
// In an Encapsulated PDF or CDA instance the first bytes of skipped values are kept, for the
// document's check (which reads its first kDocumentHeadBytes), up to this many bytes in all: the
// document, and a few other long values before it.
constexpr size_t kCapturedHeadBudget = 4 * SkippingStream::kCapturedHeadBytes;
static_assert(kDocumentHeadBytes <= SkippingStream::kCapturedHeadBytes);

}  // namespace

void ConfigureDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK's own log lines can quote attribute values; keep them out of our logs.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    // An element an explicit-VR file labels UN (rtdose_rle.dcm labels every one so) is read by
    // its dictionary VR, as `dcmdump +uc` does: otherwise its value reads as a hex dump
    // ("31\2e\32...") and a UID the index took from it would name no instance at all.
    dcmEnableUnknownVRConversion.set(OFTrue);
  });
}

namespace {

// INVALID_ARGUMENT naming the attribute when `tag` is present but its value is not text: an
// element still UN after conversion (one of undefined length), or a binary VR the file gave it.
absl::Status CheckReadAsText(DcmItem* item, const DcmTagKey& tag) {
  DcmElement* element = nullptr;
  if (item == nullptr || item->findAndGetElement(tag, element).bad() || element == nullptr) {
    return absl::OkStatus();
  }
  DcmTag named(tag);
  if (!element->valueLoaded()) {  // skipped as too long (kMaxValueBytesToLoad)
    return absl::InvalidArgumentError(
        absl::StrCat(named.getTagName(), " is too long (over ", kMaxValueBytesToLoad, " bytes)"));
  }
  if (element->isaString()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(named.getTagName(), " is not text (read as VR ",
                                                 element->getTag().getVRName(), ")"));
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

// DCMTK's first read must see the preamble, "DICM" and the start of the meta header at once:
// the first pieces are gathered until more than this many bytes are at hand. Later pieces may be of
// any size (DCMTK keeps the few bytes it cannot use yet, up to 1 KiB, for the next read).
constexpr size_t kMinReadBytes = 16 << 10;

// The UIDs are looked for in at most this many bytes from the start of the file (in practice they
// are in the first few KiB). Beyond it, a put learns them when the file is complete.
constexpr size_t kUidWindowBytes = 64 << 10;
// ... and the window is re-parsed only after it grew this much, so tiny pieces cost little.
constexpr size_t kUidRetryBytes = 4 << 10;

// The first attribute after the three UIDs: a prefix parsed up to it holds all three, complete.
const DcmTagKey kAfterUids(0x0020, 0x000F);

absl::Status Unreadable(const OFCondition& cond) {
  // DCMTK condition texts are generic ("Invalid stream", "premature end of stream"): no PHI.
  return absl::InvalidArgumentError(
      absl::StrCat("not a readable DICOM instance (DCMTK: ", cond.text(), ")"));
}

// Whether the file starting with `head` is an Encapsulated PDF or CDA instance, by its SOP Class
// (the meta header's, else the data set's).
bool IsEncapsulatedDocument(absl::string_view head) {
  DcmInputBufferStream stream;
  stream.setBuffer(head.data(), static_cast<offile_off_t>(head.size()));
  DcmFileFormat file;
  file.transferInit();
  file.readUntilTag(stream, EXS_Unknown, EGL_noChange, kMaxValueBytesToLoad,
                    DcmTagKey(0x0008, 0x0017));
  file.transferEnd();
  stream.releaseBuffer();
  OFString sop_class;
  if (file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sop_class).bad() ||
      sop_class.empty()) {
    file.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
  }
  return sop_class == UID_EncapsulatedPDFStorage || sop_class == UID_EncapsulatedCDAStorage;
}

}  // namespace

struct DicomStreamParser::Dcmtk {
  SkippingStream stream;
  // DCMTK reads into ours, which finds Pixel Data as it arrives; `file` owns it.
  WatchingDataset* dataset = new WatchingDataset();
  DcmFileFormat file{dataset, /*deepCopy=*/OFFalse};
};

DicomStreamParser::DicomStreamParser() : dcmtk_(std::make_unique<Dcmtk>()) {
  ConfigureDcmtk();
  dcmtk_->file.transferInit();
}

DicomStreamParser::~DicomStreamParser() {
  if (!finished_) dcmtk_->file.transferEnd();
}

absl::Status DicomStreamParser::Feed(absl::string_view data) {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("DicomStreamParser fed after Finish");
  fed_bytes_ += data.size();
  if (!uids_ && head_tried_ < kUidWindowBytes && head_.size() < kUidWindowBytes) {  // still looking
    absl::string_view more = data.substr(0, kUidWindowBytes - head_.size());
    head_.append(more.data(), more.size());
  }
  if (data.empty()) return absl::OkStatus();
  if (!started_) {
    pending_.append(data.data(), data.size());
    if (pending_.size() <= kMinReadBytes) return absl::OkStatus();
    started_ = true;
    if (IsEncapsulatedDocument(pending_)) dcmtk_->stream.CaptureHeads(kCapturedHeadBudget);
    data = pending_;
  } else if (absl::Status held = Read(pending_, /*end=*/false); !held.ok()) {
    return held;
  }
  // The last byte is held back for the next read: DCMTK's file reader answers "end of stream",
  // without finishing the data set, to a final read that brings no bytes.
  absl::Status read = Read(data.substr(0, data.size() - 1), /*end=*/false);
  const char last = data.back();
  pending_.assign(1, last);
  return read;
}

absl::Status DicomStreamParser::Read(absl::string_view data, bool end) {
  SkippingStream& stream = dcmtk_->stream;
  if (data.empty() && !end) return absl::OkStatus();
  if (!data.empty()) stream.producer().SetBuffer(data);
  if (end && stream.producer().avail() == 0 && stream.producer().owed() == 0 && !data.empty()) {
    // The file ends with a skipped value, which DCMTK already counts as read: a last read would
    // only see the end of the stream and call the data set unfinished.
    stream.producer().ReleaseBuffer();
    return error_;
  }
  if (end) stream.producer().SetEos();
  const bool paid = stream.deferred() > 0;
  if (!stream.PayDeferredSkip()) {  // a skipped deflated value is still arriving
    stream.producer().ReleaseBuffer();
    if (end) {
      error_ =
          absl::InvalidArgumentError("not a readable DICOM instance (a value runs past its end)");
    }
    return error_;
  }
  if (end && paid && stream.eos()) {  // as above, in a deflated data set
    stream.producer().ReleaseBuffer();
    return error_;
  }
  OFCondition cond = dcmtk_->file.read(stream, EXS_Unknown, EGL_noChange, kMaxValueBytesToLoad);
  stream.producer().ReleaseBuffer();
  DropReadFragments(dcmtk_->dataset->pixel_data());
  if (stream.status().bad()) cond = stream.status();  // e.g. more unread bytes than DCMTK can keep
  const bool ok = cond.good() || (!end && cond == EC_StreamNotifyClient);
  if (!ok) {
    error_ = Unreadable(cond);
  } else if (end && (stream.producer().owed() > 0 || stream.deferred() > 0)) {
    error_ =
        absl::InvalidArgumentError("not a readable DICOM instance (a value runs past its end)");
  }
  return error_;
}

void DicomStreamParser::FindUids() {
  head_tried_ = head_.size();
  // A separate reader over the first bytes, stopped at the first attribute after the UIDs: every
  // attribute before it is then complete. (The main reader cannot be searched mid-file: a search
  // moves the list cursor its next read resumes from.)
  DcmInputBufferStream stream;
  stream.setBuffer(head_.data(), static_cast<offile_off_t>(head_.size()));
  DcmFileFormat file;
  file.transferInit();
  OFCondition cond =
      file.readUntilTag(stream, EXS_Unknown, EGL_noChange, kMaxValueBytesToLoad, kAfterUids);
  file.transferEnd();
  stream.releaseBuffer();
  if (cond.good()) {
    InstanceUids uids{GetString(file.getDataset(), DCM_StudyInstanceUID),
                      GetString(file.getDataset(), DCM_SeriesInstanceUID),
                      GetString(file.getDataset(), DCM_SOPInstanceUID)};
    if (!uids.study_uid.empty() && !uids.series_uid.empty() && !uids.sop_instance_uid.empty())
      uids_ = std::move(uids);
  }
  // Found, or the attributes that follow them are already there without them: stop looking.
  if (cond.good() || head_.size() >= kUidWindowBytes) {
    head_.clear();
    head_.shrink_to_fit();
    head_tried_ = kUidWindowBytes;
  }
}

std::optional<InstanceUids> DicomStreamParser::Uids() {
  // Looked for only when asked (a put asks once a chunk is full; an instance smaller than a chunk
  // never does, and is spared the second parse), and again only once the window grew enough.
  if (!uids_ && head_tried_ < kUidWindowBytes &&
      (head_.size() >= head_tried_ + kUidRetryBytes || head_.size() == kUidWindowBytes)) {
    FindUids();
  }
  return uids_;
}

absl::StatusOr<v1::InstanceTags> DicomStreamParser::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("DicomStreamParser finished twice");
  finished_ = true;
  if (fed_bytes_ == 0) return error_ = absl::InvalidArgumentError("not DICOM: empty input");
  absl::Status read = Read(pending_, /*end=*/true);
  pending_.clear();
  DcmFileFormat& file = dcmtk_->file;
  file.transferEnd();
  if (!read.ok()) return read;
  DcmDataset* ds = file.getDataset();
  DcmMetaInfo* meta = file.getMetaInfo();

  for (const DcmTagKey& tag :
       {DCM_StudyInstanceUID, DCM_SeriesInstanceUID, DCM_SOPInstanceUID, DCM_SOPClassUID,
        DCM_PatientID, DCM_PatientName, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate,
        DCM_StudyTime, DCM_StudyDescription, DCM_AccessionNumber, DCM_Modality,
        DCM_SeriesDescription, DCM_SeriesNumber, DCM_InstanceNumber,
        DCM_MIMETypeOfEncapsulatedDocument}) {
    RETURN_IF_ERROR(CheckReadAsText(ds, tag));
  }
  RETURN_IF_ERROR(CheckReadAsText(meta, DCM_TransferSyntaxUID));
  RETURN_IF_ERROR(CheckEncapsulatedDocument(ds));

  v1::InstanceTags tags;
  tags.set_study_uid(GetString(ds, DCM_StudyInstanceUID));
  tags.set_series_uid(GetString(ds, DCM_SeriesInstanceUID));
  tags.set_sop_instance_uid(GetString(ds, DCM_SOPInstanceUID));
  std::string missing;
  if (tags.study_uid().empty()) absl::StrAppend(&missing, " StudyInstanceUID");
  if (tags.series_uid().empty()) absl::StrAppend(&missing, " SeriesInstanceUID");
  if (tags.sop_instance_uid().empty()) absl::StrAppend(&missing, " SOPInstanceUID");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DICOM instance lacks required attributes:", missing));
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
  // Image geometry for QIDO's instance level; numbers, never PHI (0 when absent).
  tags.set_rows(GetInt(ds, DCM_Rows));
  tags.set_columns(GetInt(ds, DCM_Columns));
  tags.set_bits_allocated(GetInt(ds, DCM_BitsAllocated));
  tags.set_number_of_frames(GetInt(ds, DCM_NumberOfFrames));
  // A document's media type, indexed so find and GetStudy list documents with it.
  tags.set_mime_type(GetString(ds, DCM_MIMETypeOfEncapsulatedDocument));
  if (meta != nullptr) tags.set_transfer_syntax_uid(GetString(meta, DCM_TransferSyntaxUID));
  RETURN_IF_ERROR(ApplyIndexRules(&tags));
  return tags;
}

std::optional<v1::InstanceHeader> DicomStreamParser::Header() {
  if (!finished_ || !error_.ok()) return std::nullopt;
  absl::StatusOr<std::optional<v1::InstanceHeader>> header =
      CaptureHeader(dcmtk_->file.getDataset());
  if (!header.ok()) return std::nullopt;
  return std::move(*header);
}

absl::StatusOr<v1::InstanceTags> ParseDicomHeader(absl::string_view bytes) {
  DicomStreamParser parser;
  absl::Status fed = parser.Feed(bytes);
  if (!fed.ok()) return fed;
  return parser.Finish();
}

}  // namespace medvault::frontend
