// DicomWeb::Pixels: the WADO-RS resources that look inside an instance's pixel data.
//   .../instances/{i}/frames/{list}        multipart/related of the frames (wado_frames.h)
//   .../instances/{i}/rendered             the first frame as image/jpeg or image/png
//   .../instances/{i}/thumbnail            the same, fitted into 128x128 (wado_render.h)
//   .../instances/{i}/frames/{n}/rendered  frame n; /frames/{n}/thumbnail likewise
//   studies/{s}[/series/{se}]/thumbnail    the representative image of the study or series
//   studies/{s}[/series/{se}]/rendered     multipart/related of the representative image of each
//                                          series (one part for a series)
// The representative instance of a set is the middle one, in the index's order, of its instances
// of an image storage SOP class (DCMTK's dcmImageSOPClassUIDs); its first frame is rendered.
// An instance is read whole through ImageStoreCore::Get (one audited key release, in the caller's
// name) into memory, at most DicomWebOptions::max_pixel_object_bytes, and parsed by DCMTK.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/web/dicomweb.h"
#include "frontend/web/media_type.h"
#include "frontend/web/wado_frames.h"
#include "frontend/web/wado_render.h"
#include "frontend/web/web_request.h"

namespace medvault::frontend::web {
namespace {

// The answer to a refusal this file made: its fixed message (never a UID or value).
absl::Status Refuse(HttpResponder& out, const absl::Status& why) {
  int status = 500;
  switch (why.code()) {
    case absl::StatusCode::kInvalidArgument:
      status = 400;
      break;
    case absl::StatusCode::kNotFound:
      status = 404;
      break;
    case absl::StatusCode::kFailedPrecondition:
      status = 406;
      break;
    case absl::StatusCode::kResourceExhausted:
      status = 413;
      break;
    case absl::StatusCode::kUnimplemented:
      status = 501;
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      status = 503;
      break;
    default:
      break;
  }
  return Respond(out, status, "text/plain", absl::StrCat(why.message(), "\n"));
}

// The core's errors by code name only (their messages may quote the request).
absl::Status CoreError(const absl::Status& s) { return absl::Status(s.code(), ""); }

const absl::Status& TooLarge() {
  static const absl::Status* too_large = new absl::Status(absl::ResourceExhaustedError(
      "the instance is larger than the frontend reads into memory for frames, rendered and "
      "thumbnail resources (--http_max_pixel_object_mb)"));
  return *too_large;
}

// The instance read whole (at most `cap` bytes) and parsed; errors are this file's refusals.
absl::StatusOr<std::unique_ptr<DcmFileFormat>> Load(ImageStoreCore* core, uint64_t cap,
                                                    const v1::InstanceInfo& info,
                                                    const std::string& caller,
                                                    const std::string& peer) {
  if (info.size() > cap) return TooLarge();
  std::string bytes;
  v1::GetInstanceRequest get;
  get.set_sop_instance_uid(info.tags().sop_instance_uid());
  bool over = false;
  absl::Status read = core->Get(
      get,
      [&](const v1::InstanceInfo*, uint64_t, absl::string_view data) -> absl::Status {
        if (bytes.size() + data.size() > cap) {
          over = true;
          return absl::ResourceExhaustedError("over the cap");
        }
        bytes.append(data.data(), data.size());
        return absl::OkStatus();
      },
      caller, peer);
  if (over) return TooLarge();
  if (!read.ok()) return CoreError(read);
  absl::StatusOr<std::unique_ptr<DcmFileFormat>> file = ParseDicomInMemory(bytes);
  if (!file.ok()) return absl::InternalError("the stored instance cannot be parsed");
  return file;
}

bool IsImageSopClass(const std::string& uid) {
  if (uid.empty()) return true;  // not indexed: let DCMTK decide
  for (int i = 0; i < numberOfDcmImageSOPClassUIDs; ++i) {
    if (uid == dcmImageSOPClassUIDs[i]) return true;
  }
  return false;
}

// The representative instances of `set` (index order): the middle image instance of the whole
// set (`per_series` false), or of each series in order of first appearance.
std::vector<const v1::InstanceInfo*> Representatives(const std::vector<v1::InstanceInfo>& set,
                                                     bool per_series) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const v1::InstanceInfo*>> images;
  for (const v1::InstanceInfo& i : set) {
    if (!IsImageSopClass(i.tags().sop_class_uid())) continue;
    const std::string group = per_series ? i.tags().series_uid() : "";
    if (images.find(group) == images.end()) order.push_back(group);
    images[group].push_back(&i);
  }
  std::vector<const v1::InstanceInfo*> out;
  for (const std::string& g : order) {
    const std::vector<const v1::InstanceInfo*>& of = images[g];
    out.push_back(of[(of.size() - 1) / 2]);
  }
  return out;
}

// image/jpeg or image/png for a set's rendered resource: an Accept of the image types, or of
// multipart/related with their type parameter.
absl::StatusOr<ImageFormat> ChooseSetImageFormat(absl::string_view accept) {
  std::vector<std::string> types;
  for (const MediaType& m : ParseAcceptByPreference(accept)) {
    const std::string type = m.type == "multipart/related" ? m.Param("type") : m.type;
    types.push_back(type.empty() || m.type == "multipart/*" ? "image/jpeg" : type);
  }
  if (!accept.empty() && types.empty()) return ChooseImageFormat("application/x-none");
  return ChooseImageFormat(absl::StrJoin(types, ", "));
}

}  // namespace

absl::Status DicomWeb::Pixels(const HttpRequest& request, HttpResponder& out,
                              const std::vector<std::string>& parts, std::string* op) {
  const size_t n = parts.size();
  enum { kFrames, kRendered, kThumbnail } kind;
  std::string frame_list;  // empty: the instance (frame 1)
  // A study (n 3) or series (n 5): its representative instances.
  const bool set_level = (n == 3 || (n == 5 && parts[2] == "series")) &&
                         (parts[n - 1] == "rendered" || parts[n - 1] == "thumbnail");
  if (set_level) {
    kind = parts[n - 1] == "rendered" ? kRendered : kThumbnail;
  } else if (n == 8 && parts[6] == "frames") {
    kind = kFrames;
    frame_list = parts[7];
  } else if (n == 7 && (parts[6] == "rendered" || parts[6] == "thumbnail")) {
    kind = parts[6] == "rendered" ? kRendered : kThumbnail;
  } else if (n == 9 && parts[6] == "frames" &&
             (parts[8] == "rendered" || parts[8] == "thumbnail")) {
    kind = parts[8] == "rendered" ? kRendered : kThumbnail;
    frame_list = parts[7];
  } else {
    return Respond(out, 404, "text/plain", "NOT_FOUND\n");
  }
  *op = kind == kFrames ? "wado-frames" : kind == kRendered ? "wado-rendered" : "wado-thumbnail";
  if (request.method != "GET") {
    return Respond(out, 405, "text/plain", "method not allowed\n", {{"Allow", "GET"}});
  }
  absl::StatusOr<std::string> caller = Authorize(request, "GetInstance", out);
  if (!caller.ok()) return absl::OkStatus();

  // Everything that can be refused without reading the object is refused first.
  std::vector<uint32_t> frames = {1};
  if (!frame_list.empty()) {
    absl::StatusOr<std::vector<uint32_t>> parsed = ParseFrameList(frame_list);
    if (!parsed.ok()) return Refuse(out, parsed.status());
    if (kind != kFrames && parsed->size() != 1) {
      return Refuse(out, absl::InvalidArgumentError("one frame number is rendered at a time"));
    }
    frames = *std::move(parsed);
  }
  const std::string accept = request.Header("accept");
  RenderRequest render;
  if (kind != kFrames) {
    absl::StatusOr<ImageFormat> format =
        set_level && kind == kRendered ? ChooseSetImageFormat(accept) : ChooseImageFormat(accept);
    if (!format.ok()) return Refuse(out, format.status());
    absl::StatusOr<RenderRequest> parsed = ParseRenderQuery(ParseQuery(request.query));
    if (!parsed.ok()) return Refuse(out, parsed.status());
    render = *parsed;
    render.format = *format;
    render.thumbnail = kind == kThumbnail;
    render.frame = frames[0];
  }
  absl::StatusOr<std::vector<v1::InstanceInfo>> found =
      Instances(core_, parts[1], n >= 5 ? parts[3] : "", n >= 7 ? parts[5] : "");
  if (!found.ok()) return Refuse(out, CoreError(found.status()));
  const uint64_t cap = options_.max_pixel_object_bytes;
  if (set_level) {
    std::vector<const v1::InstanceInfo*> chosen = Representatives(*found, kind == kRendered);
    if (chosen.empty()) return Refuse(out, absl::NotFoundError("no image instance to render"));
    std::vector<std::string> images;
    for (const v1::InstanceInfo* info : chosen) {
      absl::StatusOr<std::unique_ptr<DcmFileFormat>> file =
          Load(core_, cap, *info, *caller, request.peer_address);
      if (!file.ok()) return Refuse(out, file.status());
      absl::StatusOr<std::string> image = RenderImage(**file, render);
      if (!image.ok()) return Refuse(out, image.status());
      images.push_back(*std::move(image));
    }
    if (kind == kThumbnail) return Respond(out, 200, ContentTypeOf(render.format), images[0]);
    const std::string boundary = NewBoundary();
    std::string body;
    for (const std::string& image : images) {
      absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: ", ContentTypeOf(render.format),
                      "\r\n\r\n", image, "\r\n");
    }
    absl::StrAppend(&body, "--", boundary, "--\r\n");
    return Respond(out, 200,
                   absl::StrCat("multipart/related; type=\"", ContentTypeOf(render.format),
                                "\"; boundary=", boundary),
                   body);
  }
  const v1::InstanceInfo& info = found->front();
  const std::string& indexed_ts = info.tags().transfer_syntax_uid();
  if (kind == kFrames && !indexed_ts.empty()) {
    absl::Status acceptable =
        ChooseFrameMedia(accept, indexed_ts, DcmXfer(indexed_ts.c_str()).isEncapsulated()).status();
    if (!acceptable.ok()) return Refuse(out, acceptable);
  }
  absl::StatusOr<std::unique_ptr<DcmFileFormat>> file =
      Load(core_, cap, info, *caller, request.peer_address);
  if (!file.ok()) return Refuse(out, file.status());

  if (kind != kFrames) {
    absl::StatusOr<std::string> image = RenderImage(**file, render);
    if (!image.ok()) return Refuse(out, image.status());
    return Respond(out, 200, ContentTypeOf(render.format), *image);
  }
  absl::StatusOr<Frames> got = ExtractFrames(**file, frames);
  if (!got.ok()) return Refuse(out, got.status());
  absl::StatusOr<FrameMedia> media =
      ChooseFrameMedia(accept, got->transfer_syntax, got->encapsulated);
  if (!media.ok()) return Refuse(out, media.status());
  const std::string boundary = NewBoundary();
  std::string body;
  for (const std::string& frame : got->bytes) {
    absl::StrAppend(&body, "--", boundary, "\r\nContent-Type: ", media->media_type,
                    "; transfer-syntax=", media->transfer_syntax, "\r\n\r\n");
    body.append(frame);
    body.append("\r\n");
  }
  absl::StrAppend(&body, "--", boundary, "--\r\n");
  return Respond(
      out, 200,
      absl::StrCat("multipart/related; type=\"", media->media_type, "\"; boundary=", boundary),
      body);
}

}  // namespace medvault::frontend::web
