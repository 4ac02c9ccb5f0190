// WADO-RS /metadata and /bulkdata (PS3.18 10.4) without routing or authorisation (dicomweb.cc
// does both, with the read scope of GetInstance):
//   GET /dicomweb/studies/{s}[/series/{se}[/instances/{i}]]/metadata
//       application/dicom+json: one object per instance, every attribute, bulk values as
//       BulkDataURI (frontend/core/dicom_header.h says which). Built from the headers the index
//       keeps (one metaserver call per 2 MiB of headers, none per instance); an instance stored
//       before headers were kept is read whole through the read path instead (a key release).
//   GET /dicomweb/studies/{s}/series/{se}/instances/{i}/bulkdata/{tag path}
//       multipart/related; type="application/octet-stream": the value's bytes, read from the
//       stored object.
// Both return an error status before the answer began (the caller answers it), or after it
// began (the connection is then cut, so the client sees a truncated answer).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "frontend/core/image_store_core.h"
#include "frontend/web/https_server.h"

namespace medvault::frontend::web {

// Where the answer's BulkDataURIs point: "https://{Host}/dicomweb" from the request's Host
// header, or "/dicomweb" without one.
std::string DicomWebBase(const HttpRequest& request);

// `series` and `instance` may be empty (study or series level). `caller` is the key-release audit
// name for instances read whole.
absl::Status AnswerMetadata(ImageStoreCore* core, const HttpRequest& request, HttpResponder& out,
                            const std::string& caller, const std::string& study,
                            const std::string& series, const std::string& instance);

absl::Status AnswerBulkdata(ImageStoreCore* core, const HttpRequest& request, HttpResponder& out,
                            const std::string& caller, const std::string& study,
                            const std::string& series, const std::string& instance,
                            const std::string& tag_path);

}  // namespace medvault::frontend::web
