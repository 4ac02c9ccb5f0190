#include "tests/testing/external_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "medvault/v1/metaserver.grpc.pb.h"

namespace medvault::testing {

ExternalCluster::ExternalCluster(ClusterOptions options) : options_(std::move(options)) {}

ExternalCluster::~ExternalCluster() {
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) (*it)->process->Signal(SIGKILL);
}

std::string ExternalCluster::Binary(const std::string& name) { return std::string(MEDVAULT_BIN_DIR) + "/" + name; }

std::string ExternalCluster::chunkserver_dir(int i) const { return absl::StrCat(dir_.path(), "/chunkserver-", i); }

std::vector<std::string> ExternalCluster::log_files() const {
  std::vector<std::string> out;
  for (const auto& p : procs_) out.push_back(absl::StrCat(dir_.path(), "/", p->name, ".log"));
  return out;
}

TransportSecurity ExternalCluster::SecurityAs(const std::string& name) const {
  absl::StatusOr<TransportSecurity> security =
      TransportSecurity::MutualTls(DefaultFilesystem(), DevTlsFiles(tls_dir(), name));
  if (!security.ok()) {
    std::fprintf(stderr, "ExternalCluster: %s\n", security.status().ToString().c_str());
    std::abort();  // a test bug: called before Start() or with a name that has no certificate
  }
  return *security;
}

std::shared_ptr<grpc::Channel> ExternalCluster::Channel(const std::string& address, absl::string_view peer) const {
  return MakeChannel(address, SecurityAs("client"), peer);
}

std::vector<std::string> ExternalCluster::Cli() const {
  TlsFiles files = DevTlsFiles(tls_dir(), "client");
  return {Binary("medvault"), "--frontend", frontend_addr_, "--tls_ca=" + files.ca_file,
          "--tls_cert=" + files.cert_file, "--tls_key=" + files.key_file};
}

absl::StatusOr<ExternalCluster::Proc*> ExternalCluster::Launch(const std::string& name, const std::string& binary,
                                                               std::vector<std::string> flags) {
  // Each process presents its own certificate, named after it (chunkserver-0, ...).
  TlsFiles tls = DevTlsFiles(tls_dir(), name);
  std::vector<std::string> argv = {Binary(binary), "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                                   "--tls_ca=" + tls.ca_file, "--tls_cert=" + tls.cert_file,
                                   "--tls_key=" + tls.key_file};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto process = Subprocess::Start(argv, absl::StrCat(dir_.path(), "/", name, ".log"));
  if (!process.ok()) return process.status();
  auto proc = std::make_unique<Proc>();
  proc->name = name;
  proc->process = std::move(*process);
  // The event we wait for: the service's own "<name> listening grpc=A metrics=M" line.
  auto line = proc->process->ReadLine(std::chrono::seconds(30));
  if (!line.ok()) {
    return absl::UnavailableError(absl::StrCat(name, " did not start: ", line.status().message(), " (see ",
                                               dir_.path(), "/", name, ".log)"));
  }
  for (absl::string_view field : absl::StrSplit(*line, ' ')) {
    if (absl::ConsumePrefix(&field, "grpc=")) proc->address = std::string(field);
    if (absl::ConsumePrefix(&field, "metrics=")) proc->metrics = std::string(field);
  }
  if (proc->address.empty()) return absl::InternalError(absl::StrCat(name, " printed an unexpected line"));
  procs_.push_back(std::move(proc));
  return procs_.back().get();
}

absl::Status ExternalCluster::Start() {
  std::vector<std::string> names = {"keyservice", "metaserver", "frontend", "client"};
  for (int i = 0; i < options_.chunkservers; ++i) names.push_back(absl::StrCat("chunkserver-", i));
  if (absl::Status s = MakeDevCerts(tls_dir(), names); !s.ok()) return s;
  std::string kek = dir_.path() + "/kek";
  {
    std::ofstream f(kek, std::ios::binary);
    f << RandomBytes(32).value();
  }
  ::chmod(kek.c_str(), 0600);
  auto key = Launch("keyservice", "keyservice", {"--data_dir=" + dir_.path() + "/keyservice", "--kek_file=" + kek});
  if (!key.ok()) return key.status();
  key_addr_ = (*key)->address;
  std::vector<std::string> meta_flags = {"--data_dir=" + dir_.path() + "/metaserver"};
  meta_flags.insert(meta_flags.end(), options_.metaserver_flags.begin(), options_.metaserver_flags.end());
  auto meta = Launch("metaserver", "metaserver", meta_flags);
  if (!meta.ok()) return meta.status();
  meta_addr_ = (*meta)->address;
  for (int i = 0; i < options_.chunkservers; ++i) {
    auto cs = Launch(absl::StrCat("chunkserver-", i), "chunkserver",
                     {"--data_dir=" + chunkserver_dir(i), "--metaserver=" + meta_addr_,
                      absl::StrCat("--failure_domain=rack-", i), "--heartbeat_interval_ms=200"});
    if (!cs.ok()) return cs.status();
    chunk_addrs_.push_back((*cs)->address);
  }
  absl::Status s = WaitForChunkservers(options_.chunkservers, std::chrono::seconds(30));
  if (!s.ok()) return s;
  std::vector<std::string> fe_flags = {"--metaserver=" + meta_addr_, "--keyservice=" + key_addr_,
                                       absl::StrCat("--chunk_size_bytes=", options_.chunk_size_bytes)};
  fe_flags.insert(fe_flags.end(), options_.frontend_flags.begin(), options_.frontend_flags.end());
  auto fe = Launch("frontend", "frontend", fe_flags);
  if (!fe.ok()) return fe.status();
  frontend_addr_ = (*fe)->address;
  frontend_metrics_ = (*fe)->metrics;
  return absl::OkStatus();
}

absl::Status ExternalCluster::WaitForChunkservers(int n, std::chrono::seconds timeout) {
  auto stub = v1::MetaService::NewStub(Channel(meta_addr_, kMetaServerPeer));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Registration is a state of another process with no push notification: ask until it holds.
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListChunkServersResponse resp;
    if (stub->ListChunkServers(&ctx, v1::ListChunkServersRequest(), &resp).ok()) {
      int up = 0;
      for (const auto& s : resp.servers()) up += s.up() ? 1 : 0;
      if (up >= n) return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(n, " chunk servers did not register in time"));
}

absl::Status ExternalCluster::Stop() {
  absl::Status result;
  // Reverse start order: frontend first, key service last.
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
    auto start = std::chrono::steady_clock::now();
    (*it)->process->Signal(SIGTERM);
    int code = (*it)->process->Wait();
    std::printf("stopped %s in %.2f s\n", (*it)->name.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (code != 0 && result.ok()) {
      result = absl::InternalError(absl::StrCat((*it)->name, " exited with ", code, " on SIGTERM"));
    }
  }
  return result;
}

}  // namespace medvault::testing
