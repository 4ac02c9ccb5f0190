#include "frontend/web/stow.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "frontend/core/put_session.h"
#include "frontend/dimse/store_stream.h"
#include "frontend/web/media_type.h"

namespace medvault::frontend::web {
namespace {

// A part's first bytes kept to name it in the answer: the meta header and the data set's first
// attributes are well inside.
constexpr size_t kHeadBytes = 64 << 10;

std::string UidOf(DcmItem* item, const DcmTagKey& tag) {
  OFString value;
  if (item == nullptr || item->findAndGetOFString(tag, value).bad()) return "";
  std::string uid(value.c_str(), value.length());
  return CheckUid(uid, "UID").ok() ? uid : "";
}

std::string UidJson(const std::string& tag, const std::string& uid) {
  if (uid.empty()) return absl::StrCat("\"", tag, "\":{\"vr\":\"UI\"}");
  return absl::StrCat("\"", tag, "\":{\"vr\":\"UI\",\"Value\":[\"", uid, "\"]}");
}

std::string UrlJson(const std::string& url) {
  return absl::StrCat("\"00081190\":{\"vr\":\"UR\",\"Value\":[\"", url, "\"]}");
}

class PutWriter : public InstanceWriter {
 public:
  explicit PutWriter(std::unique_ptr<PutSession> session) : session_(std::move(session)) {}
  absl::Status Append(absl::string_view piece) override { return session_->Append(piece); }
  absl::StatusOr<v1::PutInstanceResponse> Finish() override { return session_->Finish(); }

 private:
  std::unique_ptr<PutSession> session_;
};

}  // namespace

StartInstance StartInstanceOn(ImageStoreCore* core) {
  return [core](const std::string& study) -> std::unique_ptr<InstanceWriter> {
    std::unique_ptr<PutSession> session = core->StartPut();
    if (!study.empty()) session->ExpectStudyUid(study);
    return std::make_unique<PutWriter>(std::move(session));
  };
}

void ReadPartUids(absl::string_view head, std::string* sop_class_uid,
                  std::string* sop_instance_uid) {
  static std::once_flag once;
  // DCMTK's own log lines can quote attribute values (as in core/dicom_parser.cc).
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
  DcmInputBufferStream stream;
  stream.setBuffer(head.data(), static_cast<offile_off_t>(head.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  // Every attribute before StudyDate is complete when it stops there; a shorter head leaves
  // what it could read.
  (void)file.readUntilTag(stream, EXS_Unknown, EGL_noChange, 4096, DCM_StudyDate);
  file.transferEnd();
  stream.releaseBuffer();
  *sop_class_uid = UidOf(file.getMetaInfo(), DCM_MediaStorageSOPClassUID);
  if (sop_class_uid->empty()) *sop_class_uid = UidOf(file.getDataset(), DCM_SOPClassUID);
  *sop_instance_uid = UidOf(file.getMetaInfo(), DCM_MediaStorageSOPInstanceUID);
  if (sop_instance_uid->empty()) *sop_instance_uid = UidOf(file.getDataset(), DCM_SOPInstanceUID);
}

StowReceiver::StowReceiver(StartInstance start, std::string study, uint64_t max_instance_bytes)
    : start_(std::move(start)), study_(std::move(study)), max_instance_bytes_(max_instance_bytes) {}

absl::Status StowReceiver::OnPartBegin(const PartHeaders& headers) {
  writer_.reset();
  part_status_ = absl::OkStatus();
  head_.clear();
  part_bytes_ = 0;
  auto type = headers.find("content-type");
  if (type != headers.end()) {
    absl::StatusOr<MediaType> m = ParseMediaType(type->second);
    if (!m.ok() || m->type != "application/dicom") {
      part_status_ = absl::InvalidArgumentError("a part is not application/dicom");
    }
  }
  if (part_status_.ok()) writer_ = start_(study_);
  return absl::OkStatus();
}

absl::Status StowReceiver::OnPartData(absl::string_view data) {
  part_bytes_ += data.size();
  if (head_.size() < kHeadBytes) {
    head_.append(data.data(), std::min(data.size(), kHeadBytes - head_.size()));
  }
  if (!part_status_.ok()) return absl::OkStatus();
  if (part_bytes_ > max_instance_bytes_) {
    part_status_ = absl::ResourceExhaustedError("the instance exceeds the frontend's size limit");
  } else {
    part_status_ = writer_->Append(data);
  }
  if (!part_status_.ok()) writer_.reset();  // abandoned at once: its chunks become orphans
  return absl::OkStatus();
}

absl::Status StowReceiver::OnPartEnd() {
  StowPart part;
  part.status = part_status_;
  if (part.status.ok()) {
    absl::StatusOr<v1::PutInstanceResponse> put = writer_->Finish();
    part.status = put.status();
    if (put.ok()) part.put = *std::move(put);
  }
  writer_.reset();
  ReadPartUids(head_, &part.sop_class_uid, &part.sop_instance_uid);
  if (part.status.ok()) part.sop_instance_uid = part.put.sop_instance_uid();
  head_.clear();
  parts_.push_back(std::move(part));
  return absl::OkStatus();
}

void StowReceiver::Abandon() { writer_.reset(); }

std::string StowResponseJson(const std::vector<StowPart>& parts, const std::string& base_url,
                             const std::string& study) {
  std::string referenced, failed;
  for (const StowPart& p : parts) {
    std::string* list = p.status.ok() ? &referenced : &failed;
    if (!list->empty()) list->push_back(',');
    absl::StrAppend(list, "{", UidJson("00081150", p.sop_class_uid), ",",
                    UidJson("00081155", p.sop_instance_uid), ",");
    if (p.status.ok()) {
      absl::StrAppend(
          list, UrlJson(absl::StrCat(base_url, "/studies/", p.put.study_uid(), "/series/",
                                     p.put.series_uid(), "/instances/", p.put.sop_instance_uid())));
    } else {
      absl::StrAppend(list, "\"00081197\":{\"vr\":\"US\",\"Value\":[",
                      frontend::StoreStatusFor(p.status).code, "]}");
    }
    list->push_back('}');
  }
  std::vector<std::string> attributes;
  if (!study.empty() && !referenced.empty()) {
    attributes.push_back(UrlJson(absl::StrCat(base_url, "/studies/", study)));
  }
  if (!failed.empty()) {
    attributes.push_back(absl::StrCat("\"00081198\":{\"vr\":\"SQ\",\"Value\":[", failed, "]}"));
  }
  if (!referenced.empty()) {
    attributes.push_back(absl::StrCat("\"00081199\":{\"vr\":\"SQ\",\"Value\":[", referenced, "]}"));
  }
  std::string out = "{";
  for (size_t i = 0; i < attributes.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", attributes[i]);
  }
  return out + "}";
}

int StowHttpStatus(const std::vector<StowPart>& parts) {
  size_t stored = 0;
  for (const StowPart& p : parts) stored += p.status.ok() ? 1 : 0;
  if (stored == parts.size()) return 200;
  return stored == 0 ? 409 : 202;
}

absl::Status ServeStow(const HttpRequest& request, HttpResponder& out, const StartInstance& start,
                       const std::string& study, uint64_t max_instance_bytes,
                       const std::string& base_url) {
  absl::StatusOr<MediaType> type = ParseMediaType(request.Header("content-type"));
  const std::string part_type = type.ok() ? absl::AsciiStrToLower(type->Param("type")) : "";
  if (!type.ok() || type->type != "multipart/related" ||
      (!part_type.empty() && part_type != "application/dicom")) {
    return Respond(out, 415, "text/plain",
                   "STOW-RS takes multipart/related; type=\"application/dicom\"\n");
  }
  const std::string boundary = type->Param("boundary");
  if (boundary.empty()) {
    return Respond(out, 400, "text/plain", "the multipart boundary is missing\n");
  }
  StowReceiver receiver(start, study, max_instance_bytes);
  MultipartReader reader(boundary, &receiver);
  absl::Status body;  // the body's own failure: framing, its limit, or cut short
  if (request.body_reader == nullptr) {
    body = reader.Feed(request.body);
  } else {
    for (;;) {
      absl::StatusOr<absl::string_view> piece = request.body_reader->Read();
      if (!piece.ok()) {
        body = piece.status();
        break;
      }
      if (piece->empty()) break;
      if (body = reader.Feed(*piece); !body.ok()) break;
    }
  }
  if (body.ok()) body = reader.Finish();
  receiver.Abandon();  // a part still open never got its closing delimiter: dropped
  int status = StowHttpStatus(receiver.parts());
  if (absl::IsResourceExhausted(body)) {
    status = 413;
  } else if (!body.ok()) {
    status = 400;
  }
  return Respond(out, status, "application/dicom+json",
                 StowResponseJson(receiver.parts(), base_url, study));
}

}  // namespace medvault::frontend::web
