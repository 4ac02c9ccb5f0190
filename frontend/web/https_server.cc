#include "frontend/web/https_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace medvault::frontend::web {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Stream = ssl::stream<tcp::socket>;

// The identity in the peer's certificate (verified against the CA by the handshake).
absl::StatusOr<PeerIdentity> PeerOf(Stream& stream, IdentityCache& cache) {
  X509* cert = SSL_get1_peer_certificate(stream.native_handle());
  if (cert == nullptr) return absl::UnauthenticatedError("no client certificate");
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  X509_free(cert);
  absl::StatusOr<PeerIdentity> who = cache.Identify(pem);
  if (!who.ok()) return absl::UnauthenticatedError("client certificate names no role and holder");
  return who;
}

// Shuts down the connections whose armed read or write has not completed within the idle
// timeout: the blocking read or write then fails. (Socket timeouts cannot do it: Asio's
// synchronous calls wait again after one.)
class IdleWatchdog {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit IdleWatchdog(absl::Duration idle)
      : idle_(absl::ToChronoMicroseconds(idle)), thread_([this] { Run(); }) {}
  ~IdleWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Arm(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    deadlines_[fd] = std::chrono::steady_clock::now() + idle_;
    cv_.notify_all();
  }
  void Disarm(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    deadlines_.erase(fd);
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      TimePoint next = TimePoint::max();
      const TimePoint now = std::chrono::steady_clock::now();
      for (auto it = deadlines_.begin(); it != deadlines_.end();) {
        if (it->second <= now) {
          ::shutdown(it->first, SHUT_RDWR);
          it = deadlines_.erase(it);
        } else {
          next = std::min(next, it->second);
          ++it;
        }
      }
      if (next == TimePoint::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
    }
  }

  const std::chrono::microseconds idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, TimePoint> deadlines_;  // armed connections (socket fds) and their deadlines
  bool stopping_ = false;
  std::thread thread_;
};

// Arms the watchdog for one read or write.
class Armed {
 public:
  Armed(IdleWatchdog& watchdog, int fd) : watchdog_(watchdog), fd_(fd) { watchdog_.Arm(fd_); }
  ~Armed() { watchdog_.Disarm(fd_); }

 private:
  IdleWatchdog& watchdog_;
  const int fd_;
};

// Answers with a body of known length after Begin's headers, chunked.
class ChunkedResponder : public HttpResponder {
 public:
  // `body_done`, when set, says whether the request's body has been read whole: if not when the
  // answer begins, the connection closes after it.
  ChunkedResponder(Stream& stream, bool keep_alive, IdleWatchdog& watchdog,
                   std::function<bool()> body_done = nullptr)
      : stream_(stream),
        keep_alive_(keep_alive),
        watchdog_(watchdog),
        fd_(stream.next_layer().native_handle()),
        body_done_(std::move(body_done)) {}

  absl::Status Begin(int status, const HttpHeaders& headers) override {
    if (begun_) return absl::FailedPreconditionError("response already begun");
    begun_ = true;
    if (body_done_ && !body_done_()) keep_alive_ = false;
    http::response<http::empty_body> res{static_cast<http::status>(status), 11};
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(keep_alive_);
    // 204 and 304 answers carry no body (RFC 9110), so no chunked framing either.
    no_body_ = status == 204 || status == 304;
    res.chunked(!no_body_);
    http::response_serializer<http::empty_body> sr{res};
    boost::beast::error_code ec;
    Armed armed(watchdog_, fd_);
    http::write_header(stream_, sr, ec);
    return Check(ec);
  }
  absl::Status Write(absl::string_view data) override {
    if (data.empty() || no_body_) return absl::OkStatus();
    boost::beast::error_code ec;
    Armed armed(watchdog_, fd_);
    net::write(stream_, http::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    return Check(ec);
  }
  absl::Status End() override {
    boost::beast::error_code ec;
    Armed armed(watchdog_, fd_);
    if (!no_body_) net::write(stream_, http::make_chunk_last(), ec);
    ended_ = true;
    return Check(ec);
  }
  bool begun() const override { return begun_; }
  bool ended() const { return ended_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  static absl::Status Check(const boost::beast::error_code& ec) {
    if (ec) return absl::UnavailableError("the client connection failed");
    return absl::OkStatus();
  }
  Stream& stream_;
  bool keep_alive_;
  IdleWatchdog& watchdog_;
  const int fd_;
  const std::function<bool()> body_done_;
  bool begun_ = false;
  bool ended_ = false;
  bool no_body_ = false;
};

// Of a body answered without being read (a refusal), at most this much is read and dropped before
// the connection closes.
constexpr uint64_t kMaxDrainBytes = 1 << 20;
// How long Stop() lets requests being served finish (a pod's grace period is longer).
constexpr std::chrono::seconds kDrainTimeout(10);

// A request body read as it arrives, by Beast's parser into a buffer of 64 KiB.
class BeastBodyReader : public HttpBodyReader {
 public:
  BeastBodyReader(Stream& stream, boost::beast::flat_buffer& buffer,
                  http::request_parser<http::buffer_body>& parser, bool expect_continue,
                  IdleWatchdog& watchdog)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        expect_continue_(expect_continue),
        watchdog_(watchdog) {}

  // Reads and drops at most `max` more bytes of the body (no "100 Continue": a client that
  // waits for one sends nothing more).
  void Drain(uint64_t max) {
    expect_continue_ = false;
    for (uint64_t dropped = 0; dropped <= max;) {
      absl::StatusOr<absl::string_view> piece = Read();
      if (!piece.ok() || piece->empty()) return;
      dropped += piece->size();
    }
  }

  absl::StatusOr<absl::string_view> Read() override {
    if (!error_.ok()) return error_;
    const int fd = stream_.next_layer().native_handle();
    boost::beast::error_code ec;
    if (expect_continue_) {
      expect_continue_ = false;
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      Armed armed(watchdog_, fd);
      http::write(stream_, go_on, ec);
      if (ec) return error_ = absl::DataLossError("the connection closed before the body");
    }
    while (!parser_.is_done()) {
      parser_.get().body().data = piece_;
      parser_.get().body().size = sizeof(piece_);
      {
        Armed armed(watchdog_, fd);
        http::read_some(stream_, buffer_, parser_, ec);
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec == http::error::body_limit) {
        return error_ = absl::ResourceExhaustedError("the request body exceeds the limit");
      }
      if (ec) return error_ = absl::DataLossError("the request body was cut short");
      const size_t n = sizeof(piece_) - parser_.get().body().size;
      if (n > 0) return absl::string_view(piece_, n);
    }
    return absl::string_view();
  }

 private:
  Stream& stream_;
  boost::beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  bool expect_continue_;
  IdleWatchdog& watchdog_;
  absl::Status error_;
  char piece_[64 << 10];
};

class BeastHttpsServer : public HttpsServer {
 public:
  BeastHttpsServer(const HttpsOptions& options, HttpHandler handler)
      : options_(options),
        handler_(std::move(handler)),
        tls_(ssl::context::tls_server),
        watchdog_(options.idle_timeout) {}

  absl::Status Init() {
    boost::system::error_code ec;
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_.use_certificate_chain_file(options_.tls.cert_file, ec);
    if (!ec) tls_.use_private_key_file(options_.tls.key_file, ssl::context::pem, ec);
    if (!ec) tls_.load_verify_file(options_.tls.ca_file, ec);
    if (ec) return absl::InvalidArgumentError("HTTPS: cannot load the TLS certificate, key or CA");
    // A client certificate is asked for and, when sent, must be signed by the CA; whether a path
    // needs one is the handler's decision (the share page will not).
    tls_.set_verify_mode(ssl::verify_peer);
    // A client resuming a TLS session (Node.js does, on its next connection) is refused with an
    // internal error unless sessions are bound to a context when client certificates are verified.
    static constexpr unsigned char kSessionContext[] = "medvault-https";
    SSL_CTX_set_session_id_context(tls_.native_handle(), kSessionContext,
                                   sizeof(kSessionContext) - 1);
    tcp::endpoint endpoint(net::ip::make_address(options_.host, ec),
                           static_cast<unsigned short>(options_.port));
    if (ec) return absl::InvalidArgumentError("HTTPS: bad listen host");
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("HTTPS: cannot listen: ", ec.message()));
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  ~BeastHttpsServer() override { Stop(); }

  int port() const override { return port_; }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      // Idle keep-alive connections close now; those serving a request finish it first.
      for (int fd : open_) {
        if (busy_.count(fd) == 0) ::shutdown(fd, SHUT_RDWR);
      }
    }
    boost::system::error_code ec;
    acceptor_.cancel(ec);
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::unique_lock<std::mutex> lock(mu_);
    if (!idle_.wait_for(lock, kDrainTimeout, [this] { return active_ == 0; })) {
      MV_LOG(WARNING) << "HTTPS: " << busy_.size() << " requests still running at shutdown";
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    idle_.wait(lock, [this] { return active_ == 0; });
  }

 private:
  void AcceptLoop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        idle_.wait(lock, [this] { return stopping_ || active_ < options_.max_connections; });
        if (stopping_) return;
      }
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      // Answers go out as a header write then chunk writes: without TCP_NODELAY, Nagle holds the
      // second small write until the client's delayed ACK (~40 ms) on every answer.
      socket.set_option(tcp::no_delay(true), ec);
      ++active_;
      std::thread([this, s = std::move(socket)]() mutable { Serve(std::move(s)); }).detach();
    }
  }

  void Serve(tcp::socket socket) {
    const int fd = socket.native_handle();
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_.insert(fd);
      if (stopping_) ::shutdown(fd, SHUT_RDWR);
    }
    {
      Stream stream(std::move(socket), tls_);
      boost::system::error_code ec;
      {
        Armed armed(watchdog_, fd);
        stream.handshake(ssl::stream_base::server, ec);
      }
      // A bug in a handler must cost one connection, never the frontend.
      try {
        if (!ec) ServeRequests(stream);
      } catch (const std::exception& e) {
        MV_LOG(ERROR) << "HTTPS request failed with an exception: " << e.what();
      }
      {
        Armed armed(watchdog_, fd);
        stream.shutdown(ec);
      }
      std::lock_guard<std::mutex> lock(mu_);
      open_.erase(fd);
    }
    std::lock_guard<std::mutex> lock(mu_);
    --active_;
    idle_.notify_all();
  }

  void ServeRequests(Stream& stream) {
    const absl::StatusOr<PeerIdentity> peer = PeerOf(stream, identities_);
    std::string peer_address;
    {
      boost::system::error_code ec;
      const tcp::endpoint remote = stream.next_layer().remote_endpoint(ec);
      if (!ec) peer_address = absl::StrCat(remote.address().to_string(), ":", remote.port());
    }
    boost::beast::flat_buffer buffer;
    const int fd = stream.next_layer().native_handle();
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;  // the answer before was the last: the server is stopping
      }
      http::request_parser<http::empty_body> head;
      head.header_limit(options_.max_header_bytes);
      // Checked below: the limit depends on the request. (Not boost::none: Beast 1.74 compares a
      // Content-Length with it as "greater than nothing", always true.)
      head.body_limit(std::numeric_limits<std::uint64_t>::max());
      boost::beast::error_code ec;
      {
        Armed armed(watchdog_, fd);
        http::read_header(stream, buffer, head, ec);
      }
      if (ec == http::error::header_limit) {
        SendError(stream, http::status::request_header_fields_too_large);
        return;
      }
      if (ec) return;  // closed, timed out, or not HTTP
      // From here until the answer is sent, a Stop() lets this request finish.
      Busy busy(this, fd);
      if (!busy.admitted()) return;
      const http::request<http::empty_body>& req = head.get();
      HttpRequest request;
      request.method = std::string(req.method_string());
      const std::string target(req.target());
      const size_t q = target.find('?');
      request.path = target.substr(0, q);
      if (q != std::string::npos) request.query = target.substr(q + 1);
      for (const auto& field : req) {
        std::string name = absl::AsciiStrToLower(std::string(field.name_string()));
        std::string& value = request.headers[name];
        value = value.empty() ? std::string(field.value())
                              : absl::StrCat(value, ", ", std::string(field.value()));
      }
      request.peer = peer;
      request.peer_address = peer_address;
      const bool keep_alive = req.keep_alive();
      const bool streamed = options_.streams_body && options_.streams_body(request);
      const uint64_t limit = streamed ? options_.max_stream_body_bytes : options_.max_body_bytes;
      if (head.content_length() && *head.content_length() > limit) {
        SendError(stream, http::status::payload_too_large);
        return;
      }
      if (streamed) {
        http::request_parser<http::buffer_body> parser(std::move(head));
        parser.body_limit(limit);
        BeastBodyReader body(stream, buffer, parser,
                             absl::EqualsIgnoreCase(request.Header("expect"), "100-continue"),
                             watchdog_);
        request.body_reader = &body;
        ChunkedResponder out(stream, keep_alive, watchdog_, [&parser] { return parser.is_done(); });
        const bool whole = Handle(request, out);
        if (whole && !parser.is_done()) {
          // Answered before the body was read (a refusal): read a little of what is still coming
          // before closing, or the close resets the connection and the client may never see
          // the answer.
          body.Drain(kMaxDrainBytes);
        }
        if (!whole || !out.keep_alive()) return;
      } else {
        http::request_parser<http::string_body> parser(std::move(head));
        parser.body_limit(limit);
        {
          Armed armed(watchdog_, fd);
          http::read(stream, buffer, parser, ec);
        }
        if (ec == http::error::body_limit) {
          SendError(stream, http::status::payload_too_large);
          return;
        }
        if (ec) return;
        request.body = std::move(parser.get().body());
        ChunkedResponder out(stream, keep_alive, watchdog_);
        if (!Handle(request, out) || !keep_alive) return;
      }
    }
  }

  // Marks a connection as serving a request for its lifetime; not admitted once stopping (the
  // connection closes instead of starting a request).
  class Busy {
   public:
    Busy(BeastHttpsServer* server, int fd) : server_(server), fd_(fd) {
      std::lock_guard<std::mutex> lock(server_->mu_);
      admitted_ = !server_->stopping_;
      if (admitted_) server_->busy_.insert(fd_);
    }
    ~Busy() {
      std::lock_guard<std::mutex> lock(server_->mu_);
      server_->busy_.erase(fd_);
    }
    bool admitted() const { return admitted_; }

   private:
    BeastHttpsServer* const server_;
    const int fd_;
    bool admitted_ = false;
  };

  // Runs the handler; true when the answer was sent whole (the connection may serve another).
  bool Handle(const HttpRequest& request, ChunkedResponder& out) {
    absl::Status handled = handler_(request, out);
    if (!out.begun()) {
      handled = Respond(out, 500, "text/plain", "internal error\n");
    }
    return handled.ok() && out.ended();
  }

  // Answers a request refused before its body was read; the connection closes after it. What the
  // client is still sending (at most kMaxDrainBytes, until it closes or idles) is read and dropped
  // first: closing on unread bytes resets the connection, and a client still writing its body
  // would see the reset instead of the answer.
  void SendError(Stream& stream, http::status status) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::string(http::obsolete_reason(status)) + "\n";
    res.keep_alive(false);
    res.prepare_payload();
    boost::beast::error_code ec;
    const int fd = stream.next_layer().native_handle();
    {
      Armed armed(watchdog_, fd);
      http::write(stream, res, ec);
    }
    char scratch[16 << 10];
    for (uint64_t dropped = 0; !ec && dropped <= kMaxDrainBytes;) {
      Armed armed(watchdog_, fd);
      dropped += stream.read_some(net::buffer(scratch), ec);
    }
  }

  const HttpsOptions options_;
  const HttpHandler handler_;
  net::io_context io_;
  ssl::context tls_;
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  IdentityCache identities_;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable idle_;
  bool stopping_ = false;
  uint32_t active_ = 0;
  std::set<int> open_;
  std::set<int> busy_;  // connections serving a request (Busy)
  IdleWatchdog watchdog_;
};

}  // namespace

std::string HttpRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

absl::Status Respond(HttpResponder& out, int status, absl::string_view content_type,
                     absl::string_view body, const HttpHeaders& extra) {
  HttpHeaders headers = extra;
  headers.emplace_back("Content-Type", std::string(content_type));
  if (absl::Status s = out.Begin(status, headers); !s.ok()) return s;
  if (absl::Status s = out.Write(body); !s.ok()) return s;
  return out.End();
}

absl::StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsOptions& options,
                                                                HttpHandler handler) {
  auto server = std::make_unique<BeastHttpsServer>(options, std::move(handler));
  if (absl::Status s = server->Init(); !s.ok()) return s;
  MV_LOG(INFO) << "HTTPS listening on " << options.host << ":" << server->port();
  return server;
}

}  // namespace medvault::frontend::web
