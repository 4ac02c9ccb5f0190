#include "frontend/web/wado_render.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmimgle/didefine.h>
// diplugin.h (below) uses didefine.h's export macro without including it.
#include <dcmtk/dcmimage/dipipng.h>
#include <dcmtk/dcmjpeg/dipijpeg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "frontend/web/media_type.h"

namespace medvault::frontend::web {
namespace {

void RegisterDecoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

absl::Status Malformed(const char* name) {
  return absl::InvalidArgumentError(std::string("malformed ") + name + " parameter");
}

// "a,b[,c...]" into at most `max` trimmed items; false when fewer than `min`.
bool SplitList(const std::string& value, size_t min, size_t max, std::vector<std::string>* out) {
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    out->emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out->size() >= min && out->size() <= max;
}

// The size that fits `width` x `height` into `box_w` x `box_h` with the aspect kept.
std::pair<unsigned long, unsigned long> Fit(unsigned long width, unsigned long height,
                                            unsigned long box_w, unsigned long box_h) {
  const double scale =
      std::min(static_cast<double>(box_w) / width, static_cast<double>(box_h) / height);
  return {std::max(1UL, static_cast<unsigned long>(width * scale + 0.5)),
          std::max(1UL, static_cast<unsigned long>(height * scale + 0.5))};
}

// Writes `image`'s first frame through `plugin` into memory.
absl::StatusOr<std::string> Encode(DicomImage& image, const DiPluginFormat& plugin) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&buffer, &size);
  if (stream == nullptr) return absl::InternalError("cannot open a memory stream");
  const int written = image.writePluginFormat(&plugin, stream, 0);
  fclose(stream);
  std::string out(buffer == nullptr ? "" : std::string(buffer, size));
  free(buffer);
  if (written == 0 || out.empty()) return absl::InternalError("DCMTK could not encode the image");
  return out;
}

}  // namespace

absl::StatusOr<RenderRequest> ParseRenderQuery(const std::map<std::string, std::string>& query) {
  RenderRequest r;
  if (auto it = query.find("window"); it != query.end()) {
    std::vector<std::string> v;
    if (!SplitList(it->second, 2, 3, &v) || !absl::SimpleAtod(v[0], &r.window_center) ||
        !absl::SimpleAtod(v[1], &r.window_width) || r.window_width <= 0) {
      return Malformed("window");
    }
    if (v.size() == 3) {
      const std::string f = absl::AsciiStrToLower(v[2]);
      if (f != "linear" && f != "linear-exact" && f != "sigmoid") return Malformed("window");
      r.sigmoid = f == "sigmoid";
    }
    r.has_window = true;
  }
  if (auto it = query.find("viewport"); it != query.end()) {
    std::vector<std::string> v;
    // PS3.18 allows vw,vh[,sx,sy,sw,sh]; the source rectangle is not supported.
    if (!SplitList(it->second, 2, 2, &v) || !absl::SimpleAtoi(v[0], &r.viewport_width) ||
        !absl::SimpleAtoi(v[1], &r.viewport_height) || r.viewport_width == 0 ||
        r.viewport_height == 0 || r.viewport_width > 8192 || r.viewport_height > 8192) {
      return Malformed("viewport");
    }
  }
  if (auto it = query.find("quality"); it != query.end()) {
    if (!absl::SimpleAtoi(it->second, &r.quality) || r.quality < 1 || r.quality > 100) {
      return Malformed("quality");
    }
  }
  return r;
}

absl::StatusOr<ImageFormat> ChooseImageFormat(absl::string_view accept) {
  if (absl::StripAsciiWhitespace(accept).empty()) return ImageFormat::kJpeg;
  for (const MediaType& m : ParseAcceptByPreference(accept)) {
    if (m.type == "image/png") return ImageFormat::kPng;
    if (m.type == "image/jpeg" || m.type == "image/*" || m.type == "*/*") return ImageFormat::kJpeg;
  }
  return absl::FailedPreconditionError("rendered images are served as image/jpeg or image/png");
}

const char* ContentTypeOf(ImageFormat format) {
  return format == ImageFormat::kPng ? "image/png" : "image/jpeg";
}

absl::StatusOr<std::string> RenderImage(DcmFileFormat& file, const RenderRequest& request) {
  RegisterDecoders();
  DcmDataset* dataset = file.getDataset();
  if (!dataset->tagExists(DCM_PixelData)) {
    return absl::NotFoundError("the instance has no Pixel Data");
  }
  Sint32 frames = 1;
  if (dataset->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  if (request.frame == 0 || request.frame > static_cast<uint32_t>(frames)) {
    return absl::NotFoundError("frame number beyond NumberOfFrames");
  }
  DicomImage image(&file, EXS_Unknown, CIF_UsePartialAccessToPixelData, request.frame - 1, 1);
  if (image.getStatus() != EIS_Normal) {
    // DicomImage::getString names the failure (e.g. "unsupported transfer syntax"): no PHI.
    return absl::FailedPreconditionError(std::string("DCMTK cannot render the image: ") +
                                         DicomImage::getString(image.getStatus()));
  }
  if (image.isMonochrome()) {
    if (request.has_window) {
      image.setWindow(request.window_center, request.window_width);
      image.setVoiLutFunction(request.sigmoid ? EFV_Sigmoid : EFV_Linear);
    } else if (image.getWindowCount() > 0) {
      image.setWindow(0);
    } else {
      image.setMinMaxWindow();
    }
  }
  unsigned long box_w = request.viewport_width, box_h = request.viewport_height;
  if (request.thumbnail && box_w == 0) box_w = box_h = kThumbnailSize;
  std::unique_ptr<DicomImage> scaled;
  if (box_w != 0) {
    auto [w, h] = Fit(image.getWidth(), image.getHeight(), box_w, box_h);
    // A thumbnail never grows.
    const bool grows = w > image.getWidth() || h > image.getHeight();
    if ((w != image.getWidth() || h != image.getHeight()) && !(request.thumbnail && grows)) {
      scaled.reset(image.createScaledImage(w, h, /*interpolate=*/1, /*aspect=*/0));
      if (scaled == nullptr || scaled->getStatus() != EIS_Normal) {
        return absl::InternalError("DCMTK could not scale the image");
      }
    }
  }
  DicomImage& out = scaled != nullptr ? *scaled : image;
  if (request.format == ImageFormat::kPng) {
    DiPNGPlugin png;
    png.setInterlaceType(E_pngInterlaceNone);
    png.setMetainfoType(E_pngNoMetainfo);
    return Encode(out, png);
  }
  DiJPEGPlugin jpeg;
  jpeg.setQuality(static_cast<unsigned int>(request.quality));
  return Encode(out, jpeg);
}

}  // namespace medvault::frontend::web
