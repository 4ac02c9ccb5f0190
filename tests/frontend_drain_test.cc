// Issue 17: a frontend stopped with SIGTERM (as Kubernetes stops a pod) finishes what each of its
// doors is serving, refuses new connections on every door meanwhile, and exits 0. One request is
// held open on each door when the signal arrives, each paused by its client at a known point (no
// sleeps): a gRPC GetInstance stream of a 32 MiB instance after its first message and a
// PutInstance stream after its first pieces (both handlers running: the frontend's
// transfers_active gauge says 2), an HTTPS WADO-RS retrieval after 1 MiB of its answer and a
// STOW-RS request after half its body (a Python client that stops itself, SIGSTOP, once there),
// and a DIMSE association of DCMTK's storescu sending 40 instances, stopped (SIGSTOP) after the
// first C-STORE response. Once every door refuses connections the clients resume; each request
// must complete successfully and the frontend must exit 0 (frontend/main.cc; common/rpc.cc,
// ServiceRunner::Wait; frontend/dimse/listener.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/file_scan.h"
#include "common/tls.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "tests/testing/dicom_instances.h"
#include "tests/testing/external_cluster.h"
#include "tests/testing/image_store_calls.h"
#include "tests/testing/metrics_scrape.h"
#include "tests/testing/subprocess.h"

namespace medvault {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::CommandResult;
using testing::Subprocess;

constexpr char kStudy[] = "1.2.826.0.1.3680043.8.498.1717.1";
constexpr char kSeries[] = "1.2.826.0.1.3680043.8.498.1717.2";

// True once a TCP connection to 127.0.0.1:`port` is refused (ECONNREFUSED: nothing listens),
// polled until `deadline`. A listener that no longer accepts but is still open queues connections
// and then, its backlog full, lets them time out: neither counts as refused.
bool WaitRefused(int port, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval limit = {0, 200 * 1000};  // connect() gives up after 200 ms
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool refused =
        ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno == ECONNREFUSED;
    ::close(fd);
    if (refused) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// True once `pid` is stopped (state T in /proc/PID/stat), polled for 30 s at most.
bool WaitStopped(pid_t pid) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    const std::string stat = testing::ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T') {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Reads `process`'s stdout until a line containing `text` (30 s at most).
bool WaitForLine(Subprocess* process, const std::string& text, std::string* seen) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    absl::StatusOr<std::string> line = process->ReadLine(std::chrono::seconds(30));
    if (!line.ok()) return false;
    *seen += *line + "\n";
    if (absl::StrContains(*line, text)) return true;
  }
  return false;
}

int PortOf(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) << address;
  return port;
}

class FrontendDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<int>> port = testing::PickFreePorts(1);
    ASSERT_TRUE(port.ok()) << port.status();
    http_port_ = (*port)[0];
    testing::ClusterOptions options;
    options.frontend_flags = {absl::StrCat("--http_port=", http_port_)};
    cluster_ = std::make_unique<testing::ExternalCluster>(options);
    ASSERT_TRUE(cluster_->Start().ok());
    stub_ = v1::ImageStore::NewStub(cluster_->Channel(cluster_->frontend(), kFrontendPeer));
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      std::cerr << "frontend log:\n"
                << testing::ReadWholeFile(cluster_->LogFileOf("frontend")) << "\n";
    }
  }

  // A STOW-RS body of one instance `sop` of about `mib` MiB (tests/dicomweb/big_stow_body.py) at
  // `path`; returns the instance's Part 10 bytes.
  std::string BigInstance(const std::string& sop, int mib, const std::string& path) {
    CommandResult made = testing::RunCommand(
        {"/usr/bin/python3", std::string(MEDVAULT_DICOMWEB_SCRIPTS_DIR) + "/big_stow_body.py", path,
         "big", std::to_string(mib), kStudy, kSeries, sop});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    const std::string body = testing::ReadWholeFile(path);
    const std::string head = "--big\r\nContent-Type: application/dicom\r\n\r\n";
    const std::string tail = "\r\n--big--\r\n";
    EXPECT_TRUE(absl::StartsWith(body, head) && absl::EndsWith(body, tail));
    if (body.size() < head.size() + tail.size()) return "";
    return body.substr(head.size(), body.size() - head.size() - tail.size());
  }

  // The paused HTTPS client (tests/drain/paused_https.py) with `args` after the TLS files.
  std::unique_ptr<Subprocess> PausedHttps(const std::string& mode, const std::string& name,
                                          std::vector<std::string> args) {
    const std::string tls = cluster_->tls_dir();
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     std::string(MEDVAULT_DRAIN_SCRIPTS_DIR) + "/paused_https.py",
                                     mode,
                                     std::to_string(http_port_),
                                     tls + "/ca.crt",
                                     tls + "/client.crt",
                                     tls + "/client.key"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> p =
        Subprocess::Start(argv, cluster_->root() + "/" + name + ".log");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  int http_port_ = 0;
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::unique_ptr<v1::ImageStore::Stub> stub_;
};

TEST_F(FrontendDrainTest, SigtermFinishesARequestOnEveryDoorAndRefusesNewOnes) {
  const std::string root = cluster_->root();
  const std::string x_uid = "1.2.826.0.1.3680043.8.498.1717.10";
  const std::string y_uid = "1.2.826.0.1.3680043.8.498.1717.11";
  const std::string z_uid = "1.2.826.0.1.3680043.8.498.1717.12";
  // x is read back through gRPC and WADO-RS: 32 MiB, more than the stream's flow-control window
  // and the socket buffers hold, so neither answer can be written whole before the client reads.
  const std::string x = BigInstance(x_uid, 32, root + "/x.body");
  const std::string y = BigInstance(y_uid, 8, root + "/y.body");
  BigInstance(z_uid, 8, root + "/z.body");
  absl::StatusOr<v1::PutInstanceResponse> stored = testing::PutInstance(stub_.get(), x);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const std::string dimse_dir = root + "/dimse";
  fs::create_directories(dimse_dir);
  const testing::DicomInstanceFactory ct(
      testing::ReadWholeFile(std::string(MEDVAULT_PYDICOM_TEST_FILES) + "/CT_small.dcm"));
  constexpr int kDimseInstances = 40;
  for (int i = 0; i < kDimseInstances; ++i) {
    absl::StatusOr<std::string> bytes =
        ct.WithSopInstanceUid(absl::StrCat("1.2.826.0.1.3680043.8.498.1717.100.", i));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    std::ofstream(absl::StrCat(dimse_dir, "/", i, ".dcm"), std::ios::binary) << *bytes;
  }
  const int grpc_port = PortOf(cluster_->frontend());
  const int dicom_port = cluster_->frontend_dicom_port();
  const std::string metrics = cluster_->frontend_metrics();

  // gRPC: a GetInstance stream read up to its first message, a PutInstance stream of which the
  // first 2 MB are sent; both handlers are running once the frontend counts two transfers.
  grpc::ClientContext get_ctx, put_ctx;
  get_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  put_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::GetInstanceRequest get_req;
  get_req.set_sop_instance_uid(x_uid);
  auto get_stream = stub_->GetInstance(&get_ctx, get_req);
  v1::GetInstanceResponse piece;
  ASSERT_TRUE(get_stream->Read(&piece));
  std::string got = piece.data();
  v1::PutInstanceResponse put_resp;
  auto put_stream = stub_->PutInstance(&put_ctx, &put_resp);
  constexpr size_t kPiece = 1 << 20;
  size_t sent = 0;
  for (; sent < 2 * kPiece; sent += kPiece) {
    v1::PutInstanceRequest req;
    req.set_data(y.substr(sent, kPiece));
    ASSERT_TRUE(put_stream->Write(req));
  }
  {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    absl::StatusOr<double> active;
    while (Clock::now() < deadline) {
      active = cluster_->Metric("frontend", "medvault_frontend_transfers_active");
      if (active.ok() && *active >= 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(active.ok() && *active >= 2) << "the gRPC streams are not both being served";
  }

  // HTTPS: a WADO-RS retrieval of x after 1 MiB of the answer, a STOW-RS of z after half its body.
  const std::string wado_path =
      absl::StrCat("/dicomweb/studies/", kStudy, "/series/", kSeries, "/instances/", x_uid);
  std::unique_ptr<Subprocess> wado =
      PausedHttps("get", "wado",
                  {wado_path, "multipart/related; type=\"application/dicom\"", root + "/wado.out"});
  std::unique_ptr<Subprocess> stow = PausedHttps(
      "stow", "stow", {"/dicomweb/studies", root + "/z.body", "big", root + "/stow.out"});
  ASSERT_TRUE(wado != nullptr && stow != nullptr);
  std::string seen;
  ASSERT_TRUE(WaitForLine(wado.get(), "paused", &seen)) << seen;
  ASSERT_TRUE(WaitForLine(stow.get(), "paused", &seen)) << seen;
  ASSERT_TRUE(WaitStopped(wado->pid()) && WaitStopped(stow->pid()));

  // DIMSE: storescu's association, stopped once the first instance is stored.
  absl::StatusOr<std::unique_ptr<Subprocess>> storescu =
      Subprocess::Start({"/bin/sh", "-c",
                         absl::StrCat("exec /usr/bin/storescu -v -aec MEDVAULT 127.0.0.1 ",
                                      dicom_port, " +sd ", dimse_dir, " 2>&1")},
                        root + "/storescu.log");
  ASSERT_TRUE(storescu.ok()) << storescu.status();
  std::string storescu_out;
  ASSERT_TRUE(WaitForLine(storescu->get(), "Received Store Response", &storescu_out))
      << storescu_out;
  (*storescu)->Signal(SIGSTOP);
  ASSERT_TRUE(WaitStopped((*storescu)->pid()));

  // SIGTERM; every door refuses new connections while the five requests are held.
  absl::Status stopped;
  std::thread stopper([&] { stopped = cluster_->StopGracefully("frontend"); });
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  EXPECT_TRUE(WaitRefused(grpc_port, deadline)) << "the gRPC door still accepts";
  EXPECT_TRUE(WaitRefused(http_port_, deadline)) << "the HTTPS door still accepts";
  EXPECT_TRUE(WaitRefused(dicom_port, deadline)) << "the DIMSE door still accepts";
  // The signal came while both gRPC calls were open: neither is answered yet (x was stored by the
  // one PutInstance answered so far).
  EXPECT_EQ(testing::FrontendRequests(metrics, "GetInstance"), 0);
  EXPECT_EQ(testing::FrontendRequests(metrics, "PutInstance"), 1);

  // Resume every client; every request completes.
  wado->Signal(SIGCONT);
  stow->Signal(SIGCONT);
  (*storescu)->Signal(SIGCONT);
  while (get_stream->Read(&piece)) got += piece.data();
  grpc::Status get_status = get_stream->Finish();
  EXPECT_TRUE(get_status.ok()) << get_status.error_code() << ": " << get_status.error_message();
  EXPECT_TRUE(got == x) << "GetInstance gave " << got.size() << " of " << x.size() << " bytes";
  bool writing = true;
  for (; writing && sent < y.size(); sent += kPiece) {
    v1::PutInstanceRequest req;
    req.set_data(y.substr(sent, kPiece));
    writing = put_stream->Write(req);
  }
  put_stream->WritesDone();
  grpc::Status put_status = put_stream->Finish();
  EXPECT_TRUE(put_status.ok()) << put_status.error_code() << ": " << put_status.error_message();
  EXPECT_EQ(put_resp.study_uid(), kStudy);

  seen.clear();
  EXPECT_TRUE(WaitForLine(wado.get(), "200", &seen)) << "WADO-RS: " << seen;
  EXPECT_EQ(wado->Wait(), 0);
  EXPECT_NE(testing::ReadWholeFile(root + "/wado.out").find(x), std::string::npos)
      << "the WADO-RS answer does not hold the instance";
  seen.clear();
  EXPECT_TRUE(WaitForLine(stow.get(), "200", &seen))
      << "STOW-RS: " << seen << testing::ReadWholeFile(root + "/stow.out");
  EXPECT_EQ(stow->Wait(), 0);
  for (absl::StatusOr<std::string> line = (*storescu)->ReadLine(std::chrono::seconds(30));
       line.ok(); line = (*storescu)->ReadLine(std::chrono::seconds(30))) {
    storescu_out += *line + "\n";
  }
  EXPECT_EQ((*storescu)->Wait(), 0) << storescu_out;
  int successes = 0;
  for (absl::string_view line : absl::StrSplit(storescu_out, '\n')) {
    successes += absl::StrContains(line, "Received Store Response (Success)") ? 1 : 0;
  }
  EXPECT_EQ(successes, kDimseInstances) << storescu_out;

  stopper.join();
  EXPECT_TRUE(stopped.ok()) << "the frontend did not exit 0: " << stopped;
}

}  // namespace
}  // namespace medvault
