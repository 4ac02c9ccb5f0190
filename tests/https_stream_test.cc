// The HTTPS door's request bodies (frontend/web/https_server.h) with real clients (curl, Python's
// ssl): a body the handler streams arrives in pieces of at most 64 KiB, after "100 Continue" when
// the client waits for it; bodies over their limit get 413 (every other request keeps the 64 KiB
// cap); a client that stops sending in the middle of a body is cut off by the idle timeout; a
// request being served when the server stops (SIGTERM) is answered before its connection closes.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/testing/dev_certs.h"
#include "common/testing/temp_dir.h"
#include "frontend/web/https_server.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

using frontend::web::HttpRequest;
using frontend::web::HttpResponder;
using frontend::web::HttpsOptions;
using frontend::web::HttpsServer;

class HttpsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::MakeDevCerts(dir_.path(), {"frontend", "client"}).ok());
    HttpsOptions options;
    options.tls = testing::DevTlsFiles(dir_.path(), "frontend");
    options.streams_body = [](const HttpRequest& head) { return head.path == "/stream"; };
    options.max_stream_body_bytes = 8 << 20;
    options.idle_timeout = absl::Seconds(1);
    auto started = HttpsServer::Start(options, [this](const HttpRequest& r, HttpResponder& out) {
      ++calls_;
      if (r.path == "/slow") {  // answers once the test says so
        slow_started_.Notify();
        slow_release_.WaitForNotification();
        return frontend::web::Respond(out, 200, "text/plain", "done\n");
      }
      if (r.body_reader == nullptr) {
        return frontend::web::Respond(out, 200, "text/plain", absl::StrCat(r.body.size(), "\n"));
      }
      size_t bytes = 0, pieces = 0, largest = 0;
      for (;;) {
        absl::StatusOr<absl::string_view> piece = r.body_reader->Read();
        if (!piece.ok()) {
          last_error_ = static_cast<int>(piece.status().code());
          return frontend::web::Respond(
              out, piece.status().code() == absl::StatusCode::kResourceExhausted ? 413 : 400,
              "text/plain", "cut\n");
        }
        if (piece->empty()) break;
        bytes += piece->size();
        largest = std::max(largest, piece->size());
        ++pieces;
      }
      return frontend::web::Respond(
          out, 200, "text/plain",
          absl::StrCat(bytes, " ", pieces > 1, " ", largest <= (64 << 10), "\n"));
    });
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }

  // curl's status code and body for a POST of `bytes` bytes to `path`.
  std::pair<int, std::string> Post(const std::string& path, size_t bytes,
                                   std::vector<std::string> extra = {}) {
    const std::string file = dir_.path() + "/body";
    std::ofstream(file, std::ios::binary) << std::string(bytes, 'x');
    const TlsFiles tls = testing::DevTlsFiles(dir_.path(), "client");
    std::vector<std::string> argv = {
        "/usr/bin/curl", "-sS",        "--cacert", tls.ca_file,      "--cert",        tls.cert_file,
        "--key",         tls.key_file, "-w",       "\n%{http_code}", "--data-binary", "@" + file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(absl::StrCat("https://127.0.0.1:", server_->port(), path));
    testing::CommandResult r = testing::RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const size_t nl = r.out.rfind('\n');
    return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
  }

  testing::TempDir dir_;
  std::unique_ptr<HttpsServer> server_;
  std::atomic<int> calls_{0};
  std::atomic<int> last_error_{0};
  absl::Notification slow_started_, slow_release_;
};

TEST_F(HttpsStreamTest, AStreamedBodyArrivesInPiecesAfterContinue) {
  for (const char* expect : {"Expect: 100-continue", "Expect:"}) {
    auto [status, body] = Post("/stream", 3 << 20, {"-H", expect});
    EXPECT_EQ(status, 200) << expect;
    EXPECT_EQ(body, absl::StrCat(3 << 20, " 1 1\n")) << expect;
  }
  auto [status, body] = Post("/stream", 3 << 20, {"-H", "Transfer-Encoding: chunked"});
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body.substr(0, body.find(' ')), std::to_string(3 << 20));
}

TEST_F(HttpsStreamTest, BodiesOverTheirLimitAre413) {
  // Other requests keep the 64 KiB cap.
  EXPECT_EQ(Post("/other", 64 << 10).first, 200);
  EXPECT_EQ(Post("/other", (64 << 10) + 1).first, 413);
  // A streamed body's Content-Length over its limit: refused before the handler runs.
  const int before = calls_;
  EXPECT_EQ(Post("/stream", (8 << 20) + 1).first, 413);
  EXPECT_EQ(calls_, before);
  // Chunked, the limit is found while reading: the reader says so.
  EXPECT_EQ(Post("/stream", (8 << 20) + 1, {"-H", "Transfer-Encoding: chunked"}).first, 413);
  EXPECT_EQ(last_error_, static_cast<int>(absl::StatusCode::kResourceExhausted));
}

// A refused body the client is still sending: the answer is written, then what follows is read and
// dropped before the connection closes. Closing on unread bytes makes the kernel reset the
// connection, and a client still writing its body sees "broken pipe" or a reset, not the 413.
// curl sends bodies under 1 MiB without waiting for "100 Continue".
TEST_F(HttpsStreamTest, ARefusedBodyStillGetsItsAnswer) {
  for (int i = 0; i < 5; ++i) {
    for (size_t bytes : {size_t{(64 << 10) + 1}, size_t{512 << 10}, size_t{1000 << 10}}) {
      EXPECT_EQ(Post("/other", bytes).first, 413) << bytes;
      EXPECT_EQ(Post("/other", bytes, {"-H", "Transfer-Encoding: chunked"}).first, 413) << bytes;
    }
  }
}

// A client that sends half of its body and then nothing: the server shuts the connection down
// (the client sees it closed, long before its own 60 s timeout) and the handler learns the body
// was cut short.
TEST_F(HttpsStreamTest, AClientThatStopsSendingIsCutOffByTheIdleTimeout) {
  const TlsFiles tls = testing::DevTlsFiles(dir_.path(), "client");
  testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/python3", "-c",
       "import socket, ssl, sys\n"
       "c = ssl.create_default_context(cafile=sys.argv[1])\n"
       "c.load_cert_chain(sys.argv[2], sys.argv[3])\n"
       "s = c.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[4]))),\n"
       "                  server_hostname='127.0.0.1')\n"
       "s.sendall(b'POST /stream HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n' +\n"
       "          b'x' * 10)\n"
       "s.settimeout(60)\n"
       "try:\n"
       "    while s.recv(4096): pass\n"
       "    print('closed')\n"
       "except socket.timeout:\n"
       "    print('still open')\n"
       "except (ssl.SSLError, OSError):\n"
       "    print('closed')\n",
       tls.ca_file, tls.cert_file, tls.key_file, std::to_string(server_->port())});
  EXPECT_EQ(r.out, "closed\n") << r.err;
  server_->Stop();  // waits for the handler
  EXPECT_EQ(last_error_, static_cast<int>(absl::StatusCode::kDataLoss));
}

// Stopping (the frontend's SIGTERM) closes the listener at once but lets a request being served
// finish: its client gets the whole answer.
TEST_F(HttpsStreamTest, StopAnswersTheRequestsBeingServed) {
  std::pair<int, std::string> answer;
  std::thread client([&] { answer = Post("/slow", 10); });
  ASSERT_TRUE(slow_started_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::thread stopper([&] { server_->Stop(); });
  // Once the listener refuses connections, Stop() is under way: only then may the answer go.
  const int port = server_->port();
  for (bool refused = false; !refused;) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    refused = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0;
    ::close(fd);
  }
  slow_release_.Notify();
  stopper.join();
  client.join();
  EXPECT_EQ(answer.first, 200);
  EXPECT_EQ(answer.second, "done\n");
}

}  // namespace
}  // namespace medvault
