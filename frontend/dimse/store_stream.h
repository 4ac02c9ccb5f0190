// The pieces of a C-STORE that involve no network: the Part 10 file meta header medvault writes in
// front of a received data set, the stream DCMTK's receiver writes the data set's bytes into (on
// their way to a put session), and the DIMSE status a put's outcome is answered with.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

class DcmOutputStream;

namespace medvault::frontend {

// A file meta information header (PS3.10 7.1: preamble, "DICM", group 0002 in explicit VR little
// endian) for a data set received over DIMSE: media storage SOP class and instance from the
// C-STORE request, the presentation context's transfer syntax, the calling AE as source.
// INVALID_ARGUMENT when DCMTK cannot encode a value.
absl::StatusOr<std::string> Part10Header(absl::string_view sop_class_uid,
                                         absl::string_view sop_instance_uid,
                                         absl::string_view transfer_syntax_uid,
                                         absl::string_view source_ae_title);

// A DCMTK output stream whose bytes go to `sink`, at most `max_bytes` of them. The first error
// (the sink's, or RESOURCE_EXHAUSTED past the limit) is kept and every later byte is discarded
// without failing the stream, so that DCMTK still reads the rest of the data set off the
// association and the status can be answered.
class SinkOutputStream {
 public:
  using Sink = std::function<absl::Status(absl::string_view)>;
  SinkOutputStream(Sink sink, uint64_t max_bytes);
  ~SinkOutputStream();
  DcmOutputStream* stream();
  const absl::Status& error() const;
  uint64_t bytes() const;

 private:
  class Consumer;
  class Stream;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<Stream> stream_;
};

// A DIMSE status and its Error Comment (0000,0902): at most 64 characters, never a value from the
// data set.
struct DimseStatus {
  uint16_t code = 0;
  std::string comment;  // empty for success
};

// How a C-STORE is answered for the put's outcome:
//   OK                                   0000 success
//   ALREADY_EXISTS (same UID, other bytes) 0111 duplicate SOP instance
//   PERMISSION_DENIED                    0124 not authorized
//   FAILED_PRECONDITION (data set's SOP   A900 data set does not match the request
//     Instance UID is not the request's)
//   INVALID_ARGUMENT (not DICOM, no UID)  C000 cannot understand
//   RESOURCE_EXHAUSTED, UNAVAILABLE,     A700 out of resources (retry later)
//   DEADLINE_EXCEEDED, CANCELLED
//   anything else                        0110 processing failure
DimseStatus StoreStatusFor(const absl::Status& status);

}  // namespace medvault::frontend
