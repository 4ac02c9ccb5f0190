// The frontend's HTTPS door: a small HTTP/1.1 server over TLS (Boost.Beast over Asio and OpenSSL;
// docs/architecture.md says why). It knows nothing of DICOM: it reads one request at a time per
// connection, hands it to a handler with the identity of the client certificate (if any), and lets
// the handler stream its answer in chunks. Beast stays inside https_server.cc (it compiles slowly).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/peer_identity.h"
#include "common/tls.h"

namespace medvault::frontend::web {

// The body of a request whose handler reads it as it arrives (HttpsOptions::streams_body).
class HttpBodyReader {
 public:
  virtual ~HttpBodyReader() = default;
  // The next piece of the body (at most 64 KiB), empty at its end. RESOURCE_EXHAUSTED when the
  // body exceeds HttpsOptions::max_stream_body_bytes; DATA_LOSS when it is cut short (the
  // connection closed or stayed idle past the timeout, or its chunked framing is broken). After
  // an error every call returns it again. The first call answers "Expect: 100-continue".
  virtual absl::StatusOr<absl::string_view> Read() = 0;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target up to '?', not decoded
  std::string query;   // after '?', not decoded; empty when absent
  // Header fields by lower-case name (a repeated field's values joined with ", ").
  std::map<std::string, std::string> headers;
  std::string body;  // at most HttpsOptions::max_body_bytes; empty when streamed
  // Set only for a request whose body the handler reads itself (HttpsOptions::streams_body):
  // valid during the handler's call. What the handler leaves unread closes the connection after
  // the answer.
  HttpBodyReader* body_reader = nullptr;
  // The client certificate's identity; UNAUTHENTICATED when the client presented none (the TLS
  // handshake already refused certificates the cluster CA did not sign).
  absl::StatusOr<PeerIdentity> peer;
  // The client's address ("127.0.0.1:51234") for audit lines, share logs
  // and rate limits.
  std::string peer_address;

  // The header's value, or empty.
  std::string Header(const std::string& lower_case_name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// How a handler answers: Begin once (status line and headers; the body is sent chunked), then
// any number of Write, then End. A handler that returns an error after Begin gets its connection
// closed without the last chunk, so the client sees a truncated answer, not a complete wrong one.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual absl::Status Begin(int status, const HttpHeaders& headers) = 0;
  virtual absl::Status Write(absl::string_view data) = 0;
  virtual absl::Status End() = 0;
  virtual bool begun() const = 0;
};

// Sends a whole small answer: Begin, one Write, End.
absl::Status Respond(HttpResponder& out, int status, absl::string_view content_type,
                     absl::string_view body, const HttpHeaders& extra = {});

using HttpHandler = std::function<absl::Status(const HttpRequest& request, HttpResponder& out)>;

struct HttpsOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks one (port() says which)
  TlsFiles tls;  // the cluster CA (for client certificates), this server's certificate and key
  // Larger request headers are refused with 431; larger bodies with 413.
  uint32_t max_header_bytes = 16 << 10;
  uint64_t max_body_bytes = 64 << 10;
  // Which requests' bodies the handler reads as they arrive (HttpRequest::body_reader), asked
  // with the request's method, path, query and headers (no body yet); null: none.
  std::function<bool(const HttpRequest& head)> streams_body;
  // The limit of a streamed body (larger: 413 before it is read when its Content-Length says so,
  // else RESOURCE_EXHAUSTED from the reader).
  uint64_t max_stream_body_bytes = uint64_t{8} << 30;
  // A connection is shut down when one of its reads or writes (the TLS handshake, a request's
  // header, a piece of a body, a piece of an answer) does not complete within this long: a client
  // that goes quiet, or sends or reads too slowly.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Connections served at once; more wait in the listen queue.
  uint32_t max_connections = 64;
};

class HttpsServer {
 public:
  // Listening and serving on its own threads when OK. INVALID_ARGUMENT when the TLS files do not
  // load, UNAVAILABLE when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpsServer>> Start(const HttpsOptions& options,
                                                            HttpHandler handler);
  virtual ~HttpsServer() = default;
  virtual int port() const = 0;
  // Stops accepting and closes idle connections; requests being served finish (up to 10 s, then
  // their connections are closed too), each connection closing after its answer. Waits for every
  // connection's thread.
  virtual void Stop() = 0;
};

}  // namespace medvault::frontend::web
