#include "frontend/dimse/store_stream.h"

#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcelem.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace medvault::frontend {

absl::StatusOr<std::string> Part10Header(absl::string_view sop_class_uid,
                                         absl::string_view sop_instance_uid,
                                         absl::string_view transfer_syntax_uid,
                                         absl::string_view source_ae_title) {
  DcmMetaInfo meta;
  const Uint8 version[] = {0, 1};
  const std::string cls(sop_class_uid), inst(sop_instance_uid), ts(transfer_syntax_uid),
      ae(source_ae_title);
  OFCondition c = meta.putAndInsertUint8Array(DCM_FileMetaInformationVersion, version, 2);
  if (c.good()) c = meta.putAndInsertString(DCM_MediaStorageSOPClassUID, cls.c_str());
  if (c.good()) c = meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, inst.c_str());
  if (c.good()) c = meta.putAndInsertString(DCM_TransferSyntaxUID, ts.c_str());
  if (c.good())
    c = meta.putAndInsertString(DCM_ImplementationClassUID, OFFIS_IMPLEMENTATION_CLASS_UID);
  if (c.good()) c = meta.putAndInsertString(DCM_ImplementationVersionName, "MEDVAULT");
  if (c.good() && !ae.empty())
    c = meta.putAndInsertString(DCM_SourceApplicationEntityTitle, ae.c_str());
  if (c.bad()) return absl::InvalidArgumentError("cannot encode the file meta information");
  // The group length counts every element of group 0002 after it.
  Uint32 length = 0;
  for (unsigned long i = 0; i < meta.card(); ++i) {
    length += meta.getElement(i)->calcElementLength(EXS_LittleEndianExplicit, EET_ExplicitLength);
  }
  meta.putAndInsertUint32(DCM_FileMetaInformationGroupLength, length);
  std::vector<char> buffer(132 + 12 + length + 64);
  DcmOutputBufferStream out(buffer.data(), buffer.size());
  meta.transferInit();
  c = meta.write(out, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr);
  meta.transferEnd();
  if (c.bad()) return absl::InvalidArgumentError("cannot encode the file meta information");
  void* written = nullptr;
  offile_off_t written_length = 0;
  out.flushBuffer(written, written_length);
  return std::string(static_cast<const char*>(written), written_length);
}

class SinkOutputStream::Consumer : public DcmConsumer {
 public:
  Consumer(Sink sink, uint64_t max_bytes) : sink_(std::move(sink)), max_bytes_(max_bytes) {}
  OFBool good() const override { return OFTrue; }
  OFCondition status() const override { return EC_Normal; }
  OFBool isFlushed() const override { return OFTrue; }
  offile_off_t avail() const override { return 1 << 30; }
  offile_off_t write(const void* buf, offile_off_t buflen) override {
    bytes_ += buflen;
    if (!error_.ok()) return buflen;
    if (bytes_ > max_bytes_) {
      error_ = absl::ResourceExhaustedError("the instance exceeds the frontend's size limit");
    } else {
      error_ = sink_(absl::string_view(static_cast<const char*>(buf), buflen));
    }
    return buflen;
  }
  void flush() override {}

  Sink sink_;
  const uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  absl::Status error_;
};

class SinkOutputStream::Stream : public DcmOutputStream {
 public:
  explicit Stream(DcmConsumer* consumer) : DcmOutputStream(consumer) {}
};

SinkOutputStream::SinkOutputStream(Sink sink, uint64_t max_bytes)
    : consumer_(std::make_unique<Consumer>(std::move(sink), max_bytes)),
      stream_(std::make_unique<Stream>(consumer_.get())) {}
SinkOutputStream::~SinkOutputStream() = default;
DcmOutputStream* SinkOutputStream::stream() { return stream_.get(); }
const absl::Status& SinkOutputStream::error() const { return consumer_->error_; }
uint64_t SinkOutputStream::bytes() const { return consumer_->bytes_; }

DimseStatus StoreStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return {0x0000, ""};
    case absl::StatusCode::kAlreadyExists:
      return {0x0111, "SOP Instance UID already stored with different content"};
    case absl::StatusCode::kFailedPrecondition:
      return {0xA900, "SOP Instance UID of data set differs from request's"};
    case absl::StatusCode::kPermissionDenied:
      return {0x0124, "calling AE title not allowed to store here"};
    case absl::StatusCode::kInvalidArgument:
      return {0xC000, "data set is not readable DICOM or lacks a required UID"};
    case absl::StatusCode::kResourceExhausted:
      return {0xA700, "instance too large or archive busy"};
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return {0xA700, "storage temporarily unavailable; retry later"};
    default:
      return {0x0110, "the archive could not store the instance"};
  }
}

}  // namespace medvault::frontend
