// A streaming reader of a multipart body (RFC 2046 5.1, as PS3.18 STOW-RS sends it): fed the body
// in pieces of any size, it calls its handler with each part's header fields and then the part's
// bytes in pieces, never holding more of a part than one piece plus the delimiter's length.
//
// Ours, not a library's: of Debian's MIME parsers none hands a part's body on as it arrives
// (GMime 3 and mimetic build each part in memory or need a seekable source; cpp-httplib's streaming
// multipart parser is internal to its compiled library and wants form-data parts). See
// docs/architecture.md. It is kept to the framing only: the Content-Type of a part is parsed by
// media_type.h (Beast's parameter grammar).
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace medvault::frontend::web {

// The header fields of one part, by lower-case name (a repeated field's values joined with ", ").
using PartHeaders = std::map<std::string, std::string>;

class MultipartHandler {
 public:
  virtual ~MultipartHandler() = default;
  // A part begins. An error stops the reader (Feed returns it).
  virtual absl::Status OnPartBegin(const PartHeaders& headers) = 0;
  // The next bytes of the current part (never empty).
  virtual absl::Status OnPartData(absl::string_view data) = 0;
  // The current part's closing delimiter was read: the part is complete. A part the body ends
  // inside never gets this call.
  virtual absl::Status OnPartEnd() = 0;
};

class MultipartReader {
 public:
  // Part header blocks longer than this are malformed.
  static constexpr size_t kMaxPartHeaderBytes = 16 << 10;

  // `boundary` as the Content-Type's parameter gives it (unquoted): 1 to 70 characters, else
  // every Feed fails with INVALID_ARGUMENT. `handler` must outlive this.
  MultipartReader(std::string boundary, MultipartHandler* handler);

  // The next bytes of the body. INVALID_ARGUMENT when they cannot be a multipart body (the
  // message names what, never quotes the body); the handler's error when it returns one. After an
  // error every call returns it again.
  absl::Status Feed(absl::string_view data);
  // The body ended. INVALID_ARGUMENT unless the closing delimiter was read (a body cut short, or
  // one with no part at all).
  absl::Status Finish();

  // True once the closing delimiter has been read (what follows is the epilogue, ignored).
  bool closed() const { return state_ == State::kEpilogue; }
  // Parts begun so far.
  size_t parts() const { return parts_; }

 private:
  enum class State {
    kPreamble,    // before the first delimiter
    kAfterDelim,  // after a delimiter: "--" (the close), or padding and CRLF
    kHeaders,     // a part's header block, up to the empty line
    kBody,        // a part's bytes, up to the next delimiter
    kEpilogue,    // after the close delimiter
  };
  absl::Status Step(bool* progress);
  absl::Status Malformed(const char* what);
  absl::Status ParseHeaders(absl::string_view block, PartHeaders* out);

  MultipartHandler* const handler_;
  const std::string delimiter_;  // CRLF "--" boundary
  State state_ = State::kPreamble;
  std::string pending_;  // bytes not consumed yet
  size_t parts_ = 0;
  absl::Status error_;
};

}  // namespace medvault::frontend::web
