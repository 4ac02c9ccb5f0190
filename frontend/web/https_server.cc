#include "frontend/web/https_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
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

// Answers with a body of known length after Begin's headers, chunked.
class ChunkedResponder : public HttpResponder {
 public:
  ChunkedResponder(Stream& stream, bool keep_alive) : stream_(stream), keep_alive_(keep_alive) {}

  absl::Status Begin(int status, const HttpHeaders& headers) override {
    if (begun_) return absl::FailedPreconditionError("response already begun");
    begun_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(status), 11};
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(keep_alive_);
    // 204 and 304 answers carry no body (RFC 9110), so no chunked framing either.
    no_body_ = status == 204 || status == 304;
    res.chunked(!no_body_);
    http::response_serializer<http::empty_body> sr{res};
    boost::beast::error_code ec;
    http::write_header(stream_, sr, ec);
    return Check(ec);
  }
  absl::Status Write(absl::string_view data) override {
    if (data.empty() || no_body_) return absl::OkStatus();
    boost::beast::error_code ec;
    net::write(stream_, http::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    return Check(ec);
  }
  absl::Status End() override {
    boost::beast::error_code ec;
    if (!no_body_) net::write(stream_, http::make_chunk_last(), ec);
    ended_ = true;
    return Check(ec);
  }
  bool begun() const override { return begun_; }
  bool ended() const { return ended_; }

 private:
  static absl::Status Check(const boost::beast::error_code& ec) {
    if (ec) return absl::UnavailableError("the client connection failed");
    return absl::OkStatus();
  }
  Stream& stream_;
  const bool keep_alive_;
  bool begun_ = false;
  bool ended_ = false;
  bool no_body_ = false;
};

class BeastHttpsServer : public HttpsServer {
 public:
  BeastHttpsServer(const HttpsOptions& options, HttpHandler handler)
      : options_(options), handler_(std::move(handler)), tls_(ssl::context::tls_server) {}

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
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    boost::system::error_code ec;
    acceptor_.cancel(ec);
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::unique_lock<std::mutex> lock(mu_);
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
    // Idle timeout: a blocking read or write that makes no progress for this long fails.
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(options_.idle_timeout));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    {
      Stream stream(std::move(socket), tls_);
      boost::system::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      // A bug in a handler must cost one connection, never the frontend.
      try {
        if (!ec) ServeRequests(stream);
      } catch (const std::exception& e) {
        MV_LOG(ERROR) << "HTTPS request failed with an exception: " << e.what();
      }
      stream.shutdown(ec);
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
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(options_.max_header_bytes);
      parser.body_limit(options_.max_body_bytes);
      boost::beast::error_code ec;
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::header_limit) {
        SendError(stream, http::status::request_header_fields_too_large);
        return;
      }
      if (ec == http::error::body_limit) {
        SendError(stream, http::status::payload_too_large);
        return;
      }
      if (ec) return;  // closed, timed out, or not HTTP
      http::request<http::string_body>& req = parser.get();
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
      request.body = std::move(req.body());
      request.peer = peer;
      request.peer_address = peer_address;
      const bool keep_alive = req.keep_alive();
      ChunkedResponder out(stream, keep_alive);
      absl::Status handled = handler_(request, out);
      if (!out.begun()) {
        handled = Respond(out, 500, "text/plain", "internal error\n");
      }
      if (!handled.ok() || !out.ended() || !keep_alive) return;
    }
  }

  void SendError(Stream& stream, http::status status) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::string(http::obsolete_reason(status)) + "\n";
    res.keep_alive(false);
    res.prepare_payload();
    boost::beast::error_code ec;
    http::write(stream, res, ec);
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
