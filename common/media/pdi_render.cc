// JPEG renderings of a PDI medium's series (IHE_PDI/STnnnnnn/SEnnnnnn.JPG), with DCMTK's dcmimage
// and dcmjpeg: the first frame of the series' first image, its own VOI window (else min-max),
// scaled to at most 512 pixels on its longer side. Uncompressed, JPEG, JPEG-LS and RLE images are
// rendered; others (JPEG 2000, which DCMTK cannot decode; documents, waveforms) are not.
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/media/pdi.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/dcmjpeg/dipijpeg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

namespace medvault::media {

absl::Status RenderJpeg(const std::string& dicom_path, const std::string& jpeg_path) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    // An image DCMTK cannot render is expected (JPEG 2000, a document): not worth a log line.
    for (const char* name :
         {"dcmtk.dcmimgle", "dcmtk.dcmimage", "dcmtk.dcmjpeg", "dcmtk.dcmjpls"}) {
      OFLogger log = OFLog::getLogger(name);
      if (log.getChainedLogLevel() < OFLogger::FATAL_LOG_LEVEL) {
        log.setLogLevel(OFLogger::FATAL_LOG_LEVEL);
      }
    }
  });
  DicomImage image(dicom_path.c_str(), CIF_UsePartialAccessToPixelData, 0, 1);
  if (image.getStatus() != EIS_Normal) {
    return absl::FailedPreconditionError(
        absl::StrCat("not rendered: ", DicomImage::getString(image.getStatus())));
  }
  if (image.isMonochrome()) {
    if (image.getWindowCount() == 0 || !image.setWindow(0)) image.setMinMaxWindow();
  }
  const unsigned long width = image.getWidth(), height = image.getHeight();
  std::unique_ptr<DicomImage> scaled;
  DicomImage* out = &image;
  if (width > 512 || height > 512) {
    scaled.reset(width >= height ? image.createScaledImage(512UL, 0UL, 1)
                                 : image.createScaledImage(0UL, 512UL, 1));
    if (scaled == nullptr) return absl::InternalError("scaling the rendering failed");
    out = scaled.get();
  }
  DiJPEGPlugin plugin;
  plugin.setQuality(85);
  if (!out->writePluginFormat(&plugin, jpeg_path.c_str(), 0)) {
    return absl::InternalError("writing the JPEG rendering failed");
  }
  return absl::OkStatus();
}

}  // namespace medvault::media
