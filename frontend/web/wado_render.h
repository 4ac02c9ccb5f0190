// WADO-RS rendered and thumbnail resources (PS3.18 8.3.5.1.4, 8.3.5.1.5, 8.3.5.1.6): one frame of
// an image rendered by DCMTK's dcmimage (DicomImage: modality LUT, VOI window, colour conversion)
// into an 8-bit consumer format, JPEG through dcmjpeg's DiJPEGPlugin or PNG through dcmimage's
// DiPNGPlugin. Compressed images are decoded by DCMTK's JPEG (dcmjpeg), JPEG-LS (dcmjpls) and RLE
// decoders; JPEG 2000 has no decoder in Debian's DCMTK 3.6.7 (built without OpenJPEG) and is
// refused. Nothing here knows HTTP beyond the Accept value and the query parameters.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

class DcmFileFormat;

namespace medvault::frontend::web {

enum class ImageFormat { kJpeg, kPng };

// The thumbnail's box when the request names no viewport: the image is scaled down (never up) to
// fit it, its aspect kept.
inline constexpr uint32_t kThumbnailSize = 128;

struct RenderRequest {
  ImageFormat format = ImageFormat::kJpeg;
  uint32_t frame = 1;  // 1-based
  bool thumbnail = false;
  // window=center,width[,function] (function: linear, linear-exact (drawn as linear: DCMTK
  // 3.6.7 has no exact variant), sigmoid); absent: the file's first window, else min-max.
  bool has_window = false;
  double window_center = 0;
  double window_width = 0;
  bool sigmoid = false;
  // viewport=vw,vh: the answer fits within vw x vh, aspect kept (0: no viewport).
  uint32_t viewport_width = 0;
  uint32_t viewport_height = 0;
  int quality = 90;  // JPEG quality, 1..100
};

// The request from the query parameters (window, viewport, quality; others are ignored).
// INVALID_ARGUMENT naming the malformed parameter.
absl::StatusOr<RenderRequest> ParseRenderQuery(const std::map<std::string, std::string>& query);

// image/jpeg or image/png from an Accept value (none, */*, image/*: JPEG; q-values respected).
// FAILED_PRECONDITION when it accepts neither.
absl::StatusOr<ImageFormat> ChooseImageFormat(absl::string_view accept);
const char* ContentTypeOf(ImageFormat format);

// The rendered image's bytes. NOT_FOUND when the object has no image or the frame is beyond its
// frames; FAILED_PRECONDITION when DCMTK cannot decode it (JPEG 2000, unsupported photometric
// interpretation); INTERNAL when encoding fails.
absl::StatusOr<std::string> RenderImage(DcmFileFormat& file, const RenderRequest& request);

}  // namespace medvault::frontend::web
