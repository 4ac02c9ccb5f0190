// What moving chunks over gRPC costs in CPU, apart from everything else a put does: one process
// runs a ChunkService that takes WriteChunk and discards the bytes, and client threads that send it
// 1 MiB chunks over loopback, once in plaintext and once with mutual TLS (the services' transport).
// Reports the process's CPU (user + system, both ends of the hop together) per MB moved; the
// difference between the two rows is what TLS adds to one hop. A put crosses four such hops
// (client -> frontend, frontend -> 3 chunk servers), which is the floor docs/benchmarks.md holds
// the put path's CPU against.
//
//   transport_bench --tls_dir=DIR [--mb=512] [--concurrency=4] [--chunk_bytes=1048576] [--rounds=2]
//                   [--channel_args=grpc.http2.max_frame_size=1048576,...]
//
// DIR holds development certificates for "chunkserver" and "frontend" (scripts/dev-certs DIR
// chunkserver frontend, or a cluster's DATA/tls). --channel_args adds two rows with these integer
// channel arguments set on both ends, to try gRPC tuning against the defaults in the same run.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/env.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "medvault/v1/chunkserver.grpc.pb.h"

ABSL_FLAG(std::string, tls_dir, "",
          "directory with ca.crt, chunkserver.{crt,key}, frontend.{crt,key}");
ABSL_FLAG(int, mb, 512, "MB to send per variant");
ABSL_FLAG(int, concurrency, 4, "client threads, each with its own channel");
ABSL_FLAG(int, chunk_bytes, 1 << 20, "bytes per WriteChunk");
ABSL_FLAG(int, rounds, 2, "times each variant runs, alternating");
ABSL_FLAG(std::vector<std::string>, channel_args, {},
          "name=value integer channel arguments for the extra rows");

namespace medvault {
namespace {

class DiscardService final : public v1::ChunkService::Service {
  grpc::Status WriteChunk(grpc::ServerContext*, const v1::WriteChunkRequest* request,
                          v1::WriteChunkResponse*) override {
    received_ += request->data().size();
    return grpc::Status::OK;
  }

 public:
  std::atomic<uint64_t> received_{0};
};

// --channel_args as (name, value) pairs.
std::vector<std::pair<std::string, int>> ExtraArgs() {
  std::vector<std::pair<std::string, int>> out;
  for (const std::string& kv : absl::GetFlag(FLAGS_channel_args)) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    out.emplace_back(p.first, std::atoi(p.second.c_str()));
  }
  return out;
}

double CpuSeconds() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

struct Variant {
  std::string name;
  bool tls;
  bool extra_args;  // --channel_args applied
};

void Run(const Variant& v, const TransportSecurity& server_sec,
         const TransportSecurity& client_sec) {
  DiscardService service;
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  if (v.extra_args) {
    for (const auto& [name, value] : ExtraArgs()) builder.AddChannelArgument(name, value);
  }
  int port = 0;
  builder.AddListeningPort(
      "127.0.0.1:0", v.tls ? server_sec.server_credentials() : grpc::InsecureServerCredentials(),
      &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  const int threads = absl::GetFlag(FLAGS_concurrency);
  const size_t chunk = static_cast<size_t>(absl::GetFlag(FLAGS_chunk_bytes));
  const uint64_t total = static_cast<uint64_t>(absl::GetFlag(FLAGS_mb)) << 20;
  std::vector<std::unique_ptr<v1::ChunkService::Stub>> stubs;
  for (int i = 0; i < threads; ++i) {
    grpc::ChannelArguments args;
    if (v.extra_args) {
      for (const auto& [name, value] : ExtraArgs()) args.SetInt(name, value);
    }
    args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
    args.SetInt("medvault.bench.channel", i);
    std::shared_ptr<grpc::Channel> channel =
        v.tls ? MakeChannel(address, client_sec, kChunkServerPeer, args)
              : grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
    stubs.push_back(v1::ChunkService::NewStub(channel));
  }
  v1::WriteChunkRequest request;
  request.set_chunk_id(std::string(16, 'i'));
  request.set_data(std::string(chunk, 'x'));
  std::atomic<uint64_t> sent{0};
  std::atomic<int> errors{0};
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      while (sent.fetch_add(chunk) < total) {
        grpc::ClientContext ctx;
        v1::WriteChunkResponse response;
        if (!stubs[i]->WriteChunk(&ctx, request, &response).ok()) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  const double mb = static_cast<double>(service.received_.load()) / 1e6;
  std::printf("%-26s %8.1f MB  %6.2f s  %7.1f MB/s  cpu %6.2f s  %6.2f ms/MB%s\n", v.name.c_str(),
              mb, wall, mb / wall, cpu, cpu * 1000 / mb, errors.load() ? "  ERRORS" : "");
  std::fflush(stdout);
  stubs.clear();
  server->Shutdown();
}

}  // namespace
}  // namespace medvault

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace medvault;
  const std::string dir = absl::GetFlag(FLAGS_tls_dir);
  auto server_sec = TransportSecurity::MutualTls(
      DefaultFilesystem(), {dir + "/ca.crt", dir + "/chunkserver.crt", dir + "/chunkserver.key"});
  auto client_sec = TransportSecurity::MutualTls(
      DefaultFilesystem(), {dir + "/ca.crt", dir + "/frontend.crt", dir + "/frontend.key"});
  if (!server_sec.ok() || !client_sec.ok()) {
    std::fprintf(stderr, "certificates: %s %s\n", server_sec.status().ToString().c_str(),
                 client_sec.status().ToString().c_str());
    return 1;
  }
  std::vector<Variant> variants = {{"plaintext", false, false}, {"mutual TLS", true, false}};
  if (!absl::GetFlag(FLAGS_channel_args).empty()) {
    variants.push_back({"plaintext, channel args", false, true});
    variants.push_back({"mutual TLS, channel args", true, true});
  }
  for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
    for (const Variant& v : variants) Run(v, *server_sec, *client_sec);
  }
  return 0;
}
