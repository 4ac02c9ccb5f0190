// Load generator over the public gRPC ImageStore API, for the side-by-side harness (bench/run).
// Puts a set of DICOM files (each once: their UIDs are unique) or gets stored instances back, from
// N concurrent workers, and reports instances/s, MB/s and per-instance latency p50/p90/p99/max.
//
//   load_gen --mode=put --inputs=DIR1,DIR2,file --concurrency=4 --uids_out=U.txt
//   load_gen --mode=get --uids=U.txt --concurrency=16 [--count=N | --seconds=S]
//
// put reads every input into memory first (so the figure is the service's, not this disk's) and
// streams each in 1 MiB pieces as `medvault put` does; it writes "<sop uid> <size>" per stored
// instance to --uids_out. get streams instances named in --uids (round robin) and discards the
// bytes. --json_out appends one JSON line with the figures, for bench/run's table.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/inputs.h"
#include "bench/stats.h"
#include "common/env.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "medvault/v1/image_store.grpc.pb.h"

ABSL_FLAG(std::string, frontend, "127.0.0.1:7600", "frontend address");
ABSL_FLAG(std::string, tls_dir, "",
          "directory with ca.crt, client.crt and client.key (a local "
          "cluster's DATA/tls)");
ABSL_FLAG(std::string, tls_server_name, "frontend", "name the frontend's certificate must carry");
ABSL_FLAG(std::string, mode, "put", "put or get");
ABSL_FLAG(std::string, inputs, "", "put: comma-separated files and directories (not recursive)");
ABSL_FLAG(std::string, uids, "", "get: file of '<sop uid> <size>' lines (a put's --uids_out)");
ABSL_FLAG(std::string, uids_out, "", "put: where to write '<sop uid> <size>' of stored instances");
ABSL_FLAG(int, concurrency, 4, "concurrent requests in flight");
ABSL_FLAG(int, channels, 0,
          "separate HTTP/2 connections the workers share (0: one per worker, "
          "up to 8)");
ABSL_FLAG(int64_t, count, 0,
          "requests to make (put: default and maximum every input once; get: "
          "default one pass over --uids)");
ABSL_FLAG(double, seconds, 0, "get: run for this long instead of --count");
ABSL_FLAG(std::string, label, "", "name of this measurement in the report and JSON");
ABSL_FLAG(std::string, json_out, "", "append the figures as one JSON line to this file");

namespace medvault::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kPieceBytes = 1 << 20;  // as `medvault put`

struct Outcome {
  double seconds = 0;  // latency of this request
  uint64_t bytes = 0;
  bool ok = false;
  bool already_stored = false;
  std::string uid;
  std::string error;
};

Outcome Put(v1::ImageStore::Stub& stub, const std::string& data) {
  Outcome o;
  Clock::time_point start = Clock::now();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::PutInstanceResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PutInstanceRequest>> writer =
      stub.PutInstance(&context, &response);
  v1::PutInstanceRequest request;
  for (size_t at = 0; at < data.size(); at += kPieceBytes) {
    request.set_data(data.substr(at, kPieceBytes));
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  o.ok = status.ok();
  o.bytes = data.size();
  if (!o.ok) o.error = status.error_message();
  o.already_stored = response.already_stored();
  o.uid = response.sop_instance_uid();
  return o;
}

Outcome Get(v1::ImageStore::Stub& stub, const std::string& uid) {
  Outcome o;
  Clock::time_point start = Clock::now();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::GetInstanceRequest request;
  request.set_sop_instance_uid(uid);
  std::unique_ptr<grpc::ClientReader<v1::GetInstanceResponse>> reader =
      stub.GetInstance(&context, request);
  v1::GetInstanceResponse piece;
  while (reader->Read(&piece)) o.bytes += piece.data().size();
  grpc::Status status = reader->Finish();
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  o.ok = status.ok();
  if (!o.ok) o.error = status.error_message();
  o.uid = uid;
  return o;
}

int Main() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "put" && mode != "get") {
    std::cerr << "load_gen: --mode must be put or get\n";
    return 2;
  }
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const std::string tls_dir = absl::GetFlag(FLAGS_tls_dir);
  absl::StatusOr<TransportSecurity> security =
      tls_dir.empty() ? TransportSecurity::InsecurePlaintext()
                      : TransportSecurity::MutualTls(DefaultFilesystem(),
                                                     {tls_dir + "/ca.crt", tls_dir + "/client.crt",
                                                      tls_dir + "/client.key"});
  if (!security.ok()) {
    std::cerr << "load_gen: " << security.status() << "\n";
    return 2;
  }

  // Work items: file contents (put) or UIDs (get).
  std::vector<std::string> items;
  if (mode == "put") {
    for (const std::string& f : ListInputs(absl::GetFlag(FLAGS_inputs)))
      items.push_back(ReadWhole(f));
  } else {
    std::ifstream in(absl::GetFlag(FLAGS_uids));
    std::string uid;
    uint64_t size;
    while (in >> uid >> size) items.push_back(uid);
  }
  if (items.empty()) {
    std::cerr << "load_gen: nothing to do (no --inputs files or --uids lines)\n";
    return 2;
  }
  int64_t count = absl::GetFlag(FLAGS_count);
  if (count <= 0 || (mode == "put" && count > static_cast<int64_t>(items.size())))
    count = items.size();
  const double seconds = mode == "get" ? absl::GetFlag(FLAGS_seconds) : 0;

  // Separate connections: one HTTP/2 connection would serialise large streams through one socket,
  // which is not how independent clients load a server.
  int channels = absl::GetFlag(FLAGS_channels);
  if (channels <= 0) channels = std::min(concurrency, 8);
  std::vector<std::unique_ptr<v1::ImageStore::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    // Not DefaultChannelArguments(): its 100 ms minimum reconnect backoff is also gRPC's minimum
    // connect timeout, and several TLS handshakes at once on a busy 2-core machine take longer.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
    args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
    args.SetInt("medvault.bench.channel", c);  // distinct args: distinct subchannel
    std::shared_ptr<grpc::Channel> channel = MakeChannel(
        absl::GetFlag(FLAGS_frontend), *security, absl::GetFlag(FLAGS_tls_server_name), args);
    // Connect (TLS handshake) before the clock starts: the figures are per request.
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
      std::cerr << "load_gen: cannot connect to " << absl::GetFlag(FLAGS_frontend) << "\n";
      return 1;
    }
    stubs.push_back(v1::ImageStore::NewStub(channel));
  }

  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::vector<Outcome> outcomes;
  outcomes.reserve(count);
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop =
      start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      v1::ImageStore::Stub& stub = *stubs[w % stubs.size()];
      for (;;) {
        int64_t i = next.fetch_add(1);
        if (seconds > 0 ? Clock::now() >= stop : i >= count) return;
        const std::string& item = items[i % items.size()];
        Outcome o = mode == "put" ? Put(stub, item) : Get(stub, item);
        std::lock_guard<std::mutex> lock(mu);
        outcomes.push_back(std::move(o));
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> lat;
  uint64_t bytes = 0;
  int64_t ok = 0, failed = 0, already = 0;
  std::string first_error;
  for (const Outcome& o : outcomes) {
    if (!o.ok) {
      ++failed;
      if (first_error.empty()) first_error = o.error;
      continue;
    }
    ++ok;
    if (o.already_stored) ++already;
    bytes += o.bytes;
    lat.push_back(o.seconds * 1e3);
  }
  const LatencySummary latency = Summarize(std::move(lat));
  const double p50 = latency.p50, p90 = latency.p90, p99 = latency.p99, max = latency.max;
  const double per_s = ok / wall, mb_s = bytes / wall / 1e6;
  const std::string label = absl::GetFlag(FLAGS_label).empty() ? mode : absl::GetFlag(FLAGS_label);

  std::cout << absl::StrFormat(
      "%s: %d ok (%d already stored), %d failed, %.1f MB in %.2f s: %.1f instances/s, %.1f MB/s; "
      "latency ms p50 %.1f p90 %.1f p99 %.1f max %.1f (concurrency %d, %d connections)\n",
      label, ok, already, failed, bytes / 1e6, wall, per_s, mb_s, p50, p90, p99, max, concurrency,
      channels);
  if (!first_error.empty()) std::cerr << "load_gen: first error: " << first_error << "\n";

  if (mode == "put" && !absl::GetFlag(FLAGS_uids_out).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_uids_out));
    for (const Outcome& o : outcomes) {
      if (o.ok) out << o.uid << " " << o.bytes << "\n";
    }
  }
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_json_out), std::ios::app);
    out << absl::StrFormat(
        "{\"label\":\"%s\",\"mode\":\"%s\",\"concurrency\":%d,\"ok\":%d,\"failed\":%d,"
        "\"already_stored\":%d,\"bytes\":%d,\"seconds\":%.4f,\"per_s\":%.3f,\"mb_s\":%.3f,"
        "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
        label, mode, concurrency, ok, failed, already, bytes, wall, per_s, mb_s, p50, p90, p99,
        max);
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace medvault::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return medvault::bench::Main();
}
