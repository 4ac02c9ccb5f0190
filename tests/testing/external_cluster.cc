#include "tests/testing/external_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/group_channels.h"
#include "common/rpc.h"
#include "common/testing/dev_certs.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/metrics_scrape.h"

namespace medvault::testing {
namespace {

constexpr absl::string_view kBootstrapFlag = "--raft_bootstrap";

}  // namespace

namespace {

// The lowest port the kernel hands out as a connection's source port (ip_local_port_range).
int EphemeralLow() {
  int low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  return low;
}

}  // namespace

absl::StatusOr<std::vector<int>> PickFreePorts(int n) {
  // Ports below the kernel's ephemeral range: a port the kernel picked for us (bind to 0) is one it
  // may hand to any outgoing connection between our close and the server's bind, which happened
  // under ctest -j (Orthanc's DICOM port taken, "Address already in use"). Below the range only
  // another picker can take it, and each candidate is checked by binding it. 10000-19999 also
  // stays clear of the blocks scripts/cluster takes (cluster_script_test: 20000-30039).
  const int high = std::min(20000, EphemeralLow());
  const int low = std::max(1024, high - 10000);
  thread_local std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> candidate(low, high - 1);
  std::vector<int> fds, ports;
  absl::Status status;
  for (int tries = 0; static_cast<int>(ports.size()) < n && status.ok(); ++tries) {
    if (tries > 1000 * n) {
      status = absl::InternalError("cannot pick a free loopback port");
      break;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = absl::InternalError("cannot open a socket to pick a port");
      break;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(candidate(random)));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      ports.push_back(ntohs(addr.sin_port));
      fds.push_back(fd);  // held until all are picked, so the n ports differ
    } else {
      ::close(fd);
    }
  }
  for (int fd : fds) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

ExternalCluster::ExternalCluster(ClusterOptions options) : options_(std::move(options)) {}

ExternalCluster::~ExternalCluster() {
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
    if ((*it)->process) (*it)->process->Signal(SIGKILL);
  }
}

std::string ExternalCluster::Binary(const std::string& name) {
  return std::string(MEDVAULT_BIN_DIR) + "/" + name;
}

std::string ExternalCluster::chunkserver_dir(int i) const {
  return absl::StrCat(dir_.path(), "/chunkserver-", i);
}

std::vector<std::string> ExternalCluster::log_files() const {
  std::vector<std::string> out;
  for (const auto& p : procs_) out.push_back(LogFileOf(p->name));
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

std::shared_ptr<grpc::Channel> ExternalCluster::Channel(const std::string& address,
                                                        absl::string_view peer) const {
  // The public API as the all-scopes client; internal services as the frontend, the only caller
  // most of their methods accept.
  return MakeChannel(address, SecurityAs(peer == kFrontendPeer ? "client" : "frontend"), peer);
}

std::vector<std::string> ExternalCluster::Cli() const {
  TlsFiles files = DevTlsFiles(tls_dir(), "client");
  return {Binary("medvault"),
          "--frontend",
          frontend_addr_,
          "--tls_ca=" + files.ca_file,
          "--tls_cert=" + files.cert_file,
          "--tls_key=" + files.key_file};
}

absl::StatusOr<ExternalCluster::Proc*> ExternalCluster::Launch(
    const std::string& name, const std::string& cert, const std::string& binary,
    const std::string& listen, const std::string& data_dir, std::vector<std::string> flags) {
  // Each process presents its certificate: its own (chunkserver-0, ...), or for a replica its
  // service's, which its fellow replicas require.
  TlsFiles tls = DevTlsFiles(tls_dir(), cert);
  auto proc = std::make_unique<Proc>();
  proc->name = name;
  proc->data_dir = data_dir;
  proc->argv = {Binary(binary),
                "--listen=" + listen,
                "--metrics_listen=127.0.0.1:0",
                "--tls_ca=" + tls.ca_file,
                "--tls_cert=" + tls.cert_file,
                "--tls_key=" + tls.key_file};
  if (!data_dir.empty()) proc->argv.push_back("--data_dir=" + data_dir);
  proc->argv.insert(proc->argv.end(), flags.begin(), flags.end());
  procs_.push_back(std::move(proc));
  Proc* p = procs_.back().get();
  if (absl::Status s = Spawn(p); !s.ok()) return s;
  return p;
}

absl::Status ExternalCluster::Spawn(Proc* proc, absl::string_view drop) {
  std::vector<std::string> argv;
  for (const std::string& arg : proc->argv) {
    if (drop.empty() || arg != drop) argv.push_back(arg);
  }
  auto process = Subprocess::Start(argv, LogFileOf(proc->name));
  if (!process.ok()) return process.status();
  proc->process = std::move(*process);
  proc->running = true;
  // The event we wait for: the service's own "<name> listening grpc=A metrics=M" line.
  auto line = proc->process->ReadLine(std::chrono::seconds(30));
  if (!line.ok()) {
    // It exited (refused to start) or hangs: reap it, so that it can be started again.
    proc->process->Signal(SIGKILL);
    proc->process->Wait();
    proc->running = false;
    return absl::UnavailableError(absl::StrCat(proc->name,
                                               " did not start: ", line.status().message(),
                                               " (see ", LogFileOf(proc->name), ")"));
  }
  proc->address.clear();
  for (absl::string_view field : absl::StrSplit(*line, ' ')) {
    if (absl::ConsumePrefix(&field, "grpc=")) proc->address = std::string(field);
    if (absl::ConsumePrefix(&field, "metrics=")) proc->metrics = std::string(field);
    if (absl::ConsumePrefix(&field, "dicom=")) proc->dicom = std::string(field);
    if (absl::ConsumePrefix(&field, "dicom-tls=")) proc->dicom_tls = std::string(field);
    if (absl::ConsumePrefix(&field, "health=")) proc->health = std::string(field);
  }
  if (proc->address.empty())
    return absl::InternalError(absl::StrCat(proc->name, " printed an unexpected line"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExternalCluster::StartGroup(const std::string& service,
                                                        const std::vector<std::string>& flags) {
  auto own_flags = [&](int r) {
    std::vector<std::string> all = flags;
    if (service != "keyservice") return all;
    auto own = options_.keyservice_flags_of.find(r);
    if (own != options_.keyservice_flags_of.end())
      all.insert(all.end(), own->second.begin(), own->second.end());
    return all;
  };
  if (options_.replicas <= 1) {
    auto p =
        Launch(service, service, service, "127.0.0.1:0", dir_.path() + "/" + service, own_flags(1));
    if (!p.ok()) return p.status();
    return (*p)->address;
  }
  // Every replica must know every member's address before any starts: pick the ports first.
  absl::StatusOr<std::vector<int>> ports = PickFreePorts(options_.replicas);
  if (!ports.ok()) return ports.status();
  std::string members, peers;
  for (int r = 1; r <= options_.replicas; ++r) {
    const std::string address = absl::StrCat("127.0.0.1:", (*ports)[r - 1]);
    absl::StrAppend(&members, members.empty() ? "" : ",", address);
    absl::StrAppend(&peers, peers.empty() ? "" : ",", r, "=", address);
  }
  for (int r = 1; r <= options_.replicas; ++r) {
    std::vector<std::string> replica_flags = {absl::StrCat("--raft_id=", r),
                                              "--raft_peers=" + peers, std::string(kBootstrapFlag)};
    const std::vector<std::string> extra = own_flags(r);
    replica_flags.insert(replica_flags.end(), extra.begin(), extra.end());
    const std::string name = absl::StrCat(service, "-", r);
    auto p = Launch(name, service, service, absl::StrCat("127.0.0.1:", (*ports)[r - 1]),
                    dir_.path() + "/" + name, replica_flags);
    if (!p.ok()) return p.status();
  }
  return members;
}

absl::Status ExternalCluster::Start() {
  std::vector<std::string> names = {"keyservice", "metaserver",      "frontend",
                                    "client",     "client-readonly", "client-writer"};
  for (int i = 0; i < options_.chunkservers + options_.spare_chunkservers; ++i) {
    names.push_back(absl::StrCat("chunkserver-", i));
  }
  if (absl::Status s = MakeDevCerts(tls_dir(), names); !s.ok()) return s;
  // Master keys as a Kubernetes Secret would mount them: one file per version. Tests add or remove
  // versions (kek_dir()) and restart the key service.
  if (absl::Status s = WriteKek(1); !s.ok()) return s;
  std::vector<std::string> key_flags = {"--kek_dir=" + kek_dir()};
  key_flags.insert(key_flags.end(), options_.keyservice_flags.begin(),
                   options_.keyservice_flags.end());
  absl::StatusOr<std::string> keys = StartGroup("keyservice", key_flags);
  if (!keys.ok()) return keys.status();
  key_addr_ = *keys;
  // The metaserver's retention task destroys keys in the key service.
  std::vector<std::string> meta_flags = {"--keyservice=" + key_addr_};
  meta_flags.insert(meta_flags.end(), options_.metaserver_flags.begin(),
                    options_.metaserver_flags.end());
  absl::StatusOr<std::string> meta = StartGroup("metaserver", meta_flags);
  if (!meta.ok()) return meta.status();
  meta_addr_ = *meta;
  for (int i = 0; i < options_.chunkservers; ++i) {
    auto cs = LaunchChunkserver(i);
    if (!cs.ok()) return cs.status();
  }
  absl::Status s = WaitForChunkservers(options_.chunkservers, std::chrono::seconds(30));
  if (!s.ok()) return s;
  const std::string scopes = dir_.path() + "/client-scopes";
  std::ofstream(scopes) << "client read,write,delete,admin\nclient-readonly read\n"
                           "client-writer write\n";
  std::vector<std::string> fe_flags = {
      "--metaserver=" + meta_addr_, "--keyservice=" + key_addr_,
      absl::StrCat("--chunk_size_bytes=", options_.chunk_size_bytes),
      "--client_scopes_file=" + scopes, "--dicom_port=0"};
  fe_flags.insert(fe_flags.end(), options_.frontend_flags.begin(), options_.frontend_flags.end());
  frontend_flags_ = fe_flags;
  auto fe = Launch("frontend", "frontend", "frontend", "127.0.0.1:0", "", fe_flags);
  if (!fe.ok()) return fe.status();
  frontend_addr_ = (*fe)->address;
  frontend_metrics_ = (*fe)->metrics;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExternalCluster::AddFrontend(const std::string& name) {
  auto fe = Launch(name, "frontend", "frontend", "127.0.0.1:0", "", frontend_flags_);
  if (!fe.ok()) return fe.status();
  return (*fe)->address;
}

absl::StatusOr<ExternalCluster::Proc*> ExternalCluster::LaunchChunkserver(int i) {
  const std::string name = absl::StrCat("chunkserver-", i);
  std::vector<std::string> flags = {"--metaserver=" + meta_addr_,
                                    absl::StrCat("--failure_domain=rack-", i),
                                    "--heartbeat_interval_ms=200"};
  // MEDVAULT_TEST_CHUNK_STORE=files runs any cluster test on the one-file-per-chunk layout (the
  // default is pack since issue 20; =pack names it explicitly).
  if (const char* layout = std::getenv("MEDVAULT_TEST_CHUNK_STORE"); layout != nullptr) {
    flags.push_back(absl::StrCat("--chunk_store=", layout));
  }
  flags.insert(flags.end(), options_.chunkserver_flags.begin(), options_.chunkserver_flags.end());
  auto own = options_.chunkserver_flags_of.find(i);
  if (own != options_.chunkserver_flags_of.end())
    flags.insert(flags.end(), own->second.begin(), own->second.end());
  auto cs = Launch(name, name, "chunkserver", "127.0.0.1:0", chunkserver_dir(i), flags);
  if (cs.ok()) chunk_addrs_.push_back((*cs)->address);
  return cs;
}

absl::StatusOr<std::string> ExternalCluster::AddChunkserver() {
  const int i = static_cast<int>(chunk_addrs_.size());
  if (i >= options_.chunkservers + options_.spare_chunkservers) {
    return absl::FailedPreconditionError(
        "no spare chunk server certificate (ClusterOptions::spare_chunkservers)");
  }
  auto cs = LaunchChunkserver(i);
  if (!cs.ok()) return cs.status();
  int running = 0;
  for (int j = 0; j <= i; ++j) running += IsRunning(absl::StrCat("chunkserver-", j)) ? 1 : 0;
  if (absl::Status s = WaitForChunkservers(running, std::chrono::seconds(30)); !s.ok()) return s;
  return (*cs)->name;
}

absl::Status ExternalCluster::WaitForChunkservers(int n, std::chrono::seconds timeout) {
  absl::StatusOr<std::vector<std::string>> members = ParseAddressList(meta_addr_);
  if (!members.ok()) return members.status();
  // The group's leader answers (followers redirect to it), as the frontend will find it.
  GroupChannels group(*members,
                      [this](const std::string& a) { return Channel(a, kMetaServerPeer); });
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Registration is a state of another process with no push notification: ask until it holds.
  while (std::chrono::steady_clock::now() < deadline) {
    int up = 0;
    absl::Status s = group.Call(
        [&](const std::shared_ptr<grpc::Channel>& channel,
            std::chrono::system_clock::time_point call_deadline) {
          grpc::ClientContext ctx;
          ctx.set_deadline(call_deadline);
          v1::ListChunkServersResponse resp;
          grpc::Status st = v1::MetaService::NewStub(channel)->ListChunkServers(&ctx, {}, &resp);
          for (const auto& server : resp.servers()) up += server.up() ? 1 : 0;
          return FromGrpcStatus(st);
        },
        std::chrono::seconds(5));
    if (s.ok() && up >= n) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(n, " chunk servers did not register in time"));
}

absl::Status ExternalCluster::Stop() {
  absl::Status result;
  // Reverse start order: frontend first, key service last.
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
    if (!(*it)->running) continue;  // killed by the test and not restarted
    (*it)->running = false;
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

ExternalCluster::Proc* ExternalCluster::Find(const std::string& name) const {
  for (const auto& p : procs_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

std::vector<std::string> ExternalCluster::Replicas(absl::string_view service) const {
  if (options_.replicas <= 1) return {std::string(service)};
  std::vector<std::string> out;
  for (int r = 1; r <= options_.replicas; ++r) out.push_back(absl::StrCat(service, "-", r));
  return out;
}

bool ExternalCluster::IsRunning(const std::string& name) const {
  Proc* p = Find(name);
  return p != nullptr && p->running;
}

std::string ExternalCluster::AddressOf(const std::string& name) const {
  Proc* p = Find(name);
  return p ? p->address : "";
}

int ExternalCluster::frontend_dicom_port(bool tls) const {
  Proc* p = Find("frontend");
  if (p == nullptr) return 0;
  const std::string& address = tls ? p->dicom_tls : p->dicom;
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
}

std::string ExternalCluster::MetricsOf(const std::string& name) const {
  Proc* p = Find(name);
  return p ? p->metrics : "";
}

std::string ExternalCluster::HealthOf(const std::string& name) const {
  Proc* p = Find(name);
  return p ? p->health : "";
}

std::string ExternalCluster::DataDirOf(const std::string& name) const {
  Proc* p = Find(name);
  return p ? p->data_dir : "";
}

std::string ExternalCluster::LogFileOf(const std::string& name) const {
  return absl::StrCat(dir_.path(), "/", name, ".log");
}

absl::Status ExternalCluster::Signal(const std::string& name, int sig) {
  Proc* p = Find(name);
  if (p == nullptr || !p->running)
    return absl::FailedPreconditionError(absl::StrCat(name, " is not running"));
  p->process->Signal(sig);
  return absl::OkStatus();
}

absl::Status ExternalCluster::Kill(const std::string& name) {
  Proc* p = Find(name);
  if (p == nullptr || !p->running)
    return absl::FailedPreconditionError(absl::StrCat(name, " is not running"));
  p->process->Signal(SIGKILL);
  p->process->Wait();
  p->running = false;
  return absl::OkStatus();
}

absl::Status ExternalCluster::WriteKek(uint32_t version) const {
  std::error_code ec;
  std::filesystem::create_directories(kek_dir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", kek_dir(), ": ", ec.message()));
  const std::string path = absl::StrCat(kek_dir(), "/", version);
  {
    std::ofstream f(path, std::ios::binary);
    f << RandomBytes(32).value();
  }
  if (::chmod(path.c_str(), 0600) != 0) return absl::InternalError(absl::StrCat("chmod ", path));
  return absl::OkStatus();
}

absl::Status ExternalCluster::Restart(const std::string& name) { return Restart(name, {}); }

absl::Status ExternalCluster::Restart(const std::string& name,
                                      const std::vector<std::string>& extra_flags) {
  Proc* p = Find(name);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("no process ", name));
  if (p->running) return absl::FailedPreconditionError(absl::StrCat(name, " is still running"));
  p->argv.insert(p->argv.end(), extra_flags.begin(), extra_flags.end());
  // Same --listen as before: the group and its clients know the replica by that address.
  return Spawn(p, kBootstrapFlag);
}

absl::Status ExternalCluster::StopGracefully(const std::string& name) {
  Proc* p = Find(name);
  if (p == nullptr || !p->running)
    return absl::FailedPreconditionError(absl::StrCat(name, " is not running"));
  p->process->Signal(SIGTERM);
  const int code = p->process->Wait();
  p->running = false;
  if (code != 0) return absl::InternalError(absl::StrCat(name, " exited with ", code));
  return absl::OkStatus();
}

absl::Status ExternalCluster::Wipe(const std::string& name) {
  Proc* p = Find(name);
  if (p == nullptr || p->data_dir.empty())
    return absl::NotFoundError(absl::StrCat(name, " has no data directory"));
  if (p->running)
    return absl::FailedPreconditionError(absl::StrCat("wiping ", name, " while it runs"));
  std::error_code ec;
  std::filesystem::remove_all(p->data_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("wiping ", p->data_dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<double> ExternalCluster::Metric(const std::string& name,
                                               absl::string_view metric) const {
  Proc* p = Find(name);
  if (p == nullptr || !p->running)
    return absl::UnavailableError(absl::StrCat(name, " is not running"));
  return ScrapeMetric(p->metrics, metric);
}

absl::StatusOr<std::string> ExternalCluster::LeaderOf(absl::string_view service,
                                                      std::chrono::milliseconds timeout) const {
  const std::string gauge = absl::StrCat("medvault_", service, "_raft_is_leader");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen;
  // Leadership is state inside other processes with no push notification: ask until it settles.
  for (;;) {
    std::vector<std::string> leaders;
    for (const std::string& name : Replicas(service)) {
      if (!IsRunning(name)) continue;
      absl::StatusOr<double> v = Metric(name, gauge);
      if (v.ok() && *v == 1) leaders.push_back(name);
    }
    if (leaders.size() == 1) return leaders[0];
    seen = absl::StrJoin(leaders, ",");
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no single ", service, " leader within ",
                                                  timeout.count(), " ms (leaders: [", seen, "])"));
}

}  // namespace medvault::testing
