// The DICOMweb door (PS3.18) under /dicomweb/: translates HTTP requests into ImageStoreCore calls
// and their answers back, authorising each through the frontend's Authorizer with the same method
// names (and so the same client scopes) as the gRPC door. No Beast here: requests arrive as
// HttpRequest (https_server.h).
//   WADO-RS  GET /dicomweb/studies/{s}[/series/{se}[/instances/{i}]]
//            multipart/related; type="application/dicom" of the stored bytes, streamed
//   WADO-URI GET /dicomweb/wado?requestType=WADO&studyUID=&seriesUID=&objectUID=
//   STOW-RS  POST /dicomweb/studies[/{s}], multipart/related of application/dicom, each part
//            streamed into a put (stow.h)
//   QIDO-RS  GET /dicomweb/{studies,series,instances}, /dicomweb/studies/{s}/{series,instances},
//            /dicomweb/studies/{s}/series/{se}/instances (qido.h: matching, includefield, paging)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/access_policy.h"
#include "frontend/core/image_store_core.h"
#include "frontend/web/cors.h"
#include "frontend/web/https_server.h"
#include "frontend/web/qido.h"

namespace medvault::frontend::web {

struct DicomWebOptions {
  CorsPolicy cors;  // off by default
  // Frames, rendered and thumbnail resources read the whole object into memory: larger objects
  // are refused with 413 (--http_max_pixel_object_mb).
  uint64_t max_pixel_object_bytes = uint64_t{256} << 20;
  // STOW-RS refuses a part larger than this (--max_instance_bytes).
  uint64_t max_instance_bytes = uint64_t{2} << 30;
};

class DicomWeb {
 public:
  // Both must outlive this. `authz` null lets every request through (unit tests).
  DicomWeb(ImageStoreCore* core, Authorizer* authz, DicomWebOptions options = {})
      : core_(core), authz_(authz), options_(std::move(options)) {}

  // For HttpsOptions::streams_body: true for the requests whose body Handle reads as it arrives
  // (STOW-RS).
  static bool StreamsBody(const HttpRequest& head);

  // The handler for HttpsServer: answers every path (404 outside what it serves). Every request
  // is an audit line (op, caller certificate, peer address, HTTP status; never a UID or path).
  absl::Status Handle(const HttpRequest& request, HttpResponder& out);

 private:
  // Handle without the audit line; `op` receives what the request was ("qido-series"...).
  absl::Status Route(const HttpRequest& request, HttpResponder& out, std::string* op);
  // The caller's identity ("role/name" for the key-release audit) when it may call `method`
  // (a gRPC method name: its scope rule applies); otherwise answers 401/403 and returns the error.
  absl::StatusOr<std::string> Authorize(const HttpRequest& request, const char* method,
                                        HttpResponder& out);
  absl::Status RetrieveStudy(const HttpRequest& request, HttpResponder& out,
                             const std::string& study, const std::string& series,
                             const std::string& instance);
  // WADO-RS frames, rendered and thumbnail under an instance, rendered and thumbnail of a study
  // or series (wado_pixels.cc); `parts` is the decoded path after /dicomweb.
  absl::Status Pixels(const HttpRequest& request, HttpResponder& out,
                      const std::vector<std::string>& parts, std::string* op);
  absl::Status WadoUri(const HttpRequest& request, HttpResponder& out);
  absl::Status Search(const HttpRequest& request, HttpResponder& out, QidoLevel level,
                      std::string study, std::string series);

  ImageStoreCore* core_;
  Authorizer* authz_;
  const DicomWebOptions options_;
};

}  // namespace medvault::frontend::web
