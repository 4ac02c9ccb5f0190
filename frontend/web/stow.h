// STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{study}] with a multipart/related body of
// application/dicom parts. Each part is streamed into a put of its own as it arrives (the body is
// read piece by piece through HttpRequest::body_reader, the parts framed by MultipartReader), so
// no instance is ever held whole. Each part is committed on its closing delimiter, independently:
// a part the body ends inside is dropped uncommitted (nothing visible), and parts committed before
// it stay committed. The answer (application/dicom+json) lists ReferencedSOPSequence and
// FailedSOPSequence, with the DIMSE C-STORE door's failure codes (dimse/store_stream.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/core/image_store_core.h"
#include "frontend/web/https_server.h"
#include "frontend/web/multipart_reader.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::frontend::web {

// Where one part's bytes go: a put session in the frontend, a fake in tests. Destroying a writer
// that was not finished abandons its put (nothing visible).
class InstanceWriter {
 public:
  virtual ~InstanceWriter() = default;
  virtual absl::Status Append(absl::string_view piece) = 0;
  virtual absl::StatusOr<v1::PutInstanceResponse> Finish() = 0;
};
// Starts one part's put. `study`, when not empty: the put must refuse (FAILED_PRECONDITION)
// an instance of another study before anything is placed.
using StartInstance = std::function<std::unique_ptr<InstanceWriter>(const std::string& study)>;

// Puts into `core` (which must outlive what this returns), each a PutSession.
StartInstance StartInstanceOn(ImageStoreCore* core);

// What became of one complete part.
struct StowPart {
  absl::Status status;           // the put's outcome
  v1::PutInstanceResponse put;   // when stored
  std::string sop_class_uid;     // from the part's first bytes; empty when unreadable
  std::string sop_instance_uid;  // likewise
};

// Receives the parts of one request (a MultipartHandler). Parts whose own Content-Type is not
// application/dicom, or that exceed `max_instance_bytes`, fail without failing the others.
class StowReceiver : public MultipartHandler {
 public:
  StowReceiver(StartInstance start, std::string study, uint64_t max_instance_bytes);
  absl::Status OnPartBegin(const PartHeaders& headers) override;
  absl::Status OnPartData(absl::string_view data) override;
  absl::Status OnPartEnd() override;
  // The body ended inside a part, or was refused: the open part is dropped, never committed.
  void Abandon();
  const std::vector<StowPart>& parts() const { return parts_; }

 private:
  const StartInstance start_;
  const std::string study_;
  const uint64_t max_instance_bytes_;
  std::unique_ptr<InstanceWriter> writer_;  // the open part's put, while it succeeds
  absl::Status part_status_;                // the open part's first error
  std::string head_;                        // the open part's first bytes, for its UIDs
  uint64_t part_bytes_ = 0;
  std::vector<StowPart> parts_;
};

// The SOP Class and Instance UIDs of a Part 10 file from its first bytes (the meta header's, or
// else the data set's), each empty when not there or not a well-formed UID.
void ReadPartUids(absl::string_view head, std::string* sop_class_uid,
                  std::string* sop_instance_uid);

// The PS3.18 Store Instances Response as DICOM JSON. `base_url` ("https://host/dicomweb") makes
// the RetrieveURLs; `study` is the request's (a study-level RetrieveURL), or empty.
std::string StowResponseJson(const std::vector<StowPart>& parts, const std::string& base_url,
                             const std::string& study);

// The HTTP status for a request whose body was read whole: 200 all stored, 202 some failed,
// 409 all failed.
int StowHttpStatus(const std::vector<StowPart>& parts);

// Serves one STOW-RS request (already authorised): checks the Content-Type (415), reads the body
// from request.body_reader (request.body when there is none), stores each part and answers.
// 400 for a malformed body, 413 past the body limit (with the parts stored before it listed).
absl::Status ServeStow(const HttpRequest& request, HttpResponder& out, const StartInstance& start,
                       const std::string& study, uint64_t max_instance_bytes,
                       const std::string& base_url);

}  // namespace medvault::frontend::web
