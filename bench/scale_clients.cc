#include "bench/scale_clients.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/rpc.h"
#include "common/status_macros.h"
#include "common/tls.h"

namespace medvault::bench::scale {
namespace {

constexpr auto kCallBudget = std::chrono::seconds(60);
constexpr uint32_t kChunkSize = 1 << 20;     // the frontend's default
constexpr uint64_t kEnvelopeBytes = 28;      // AES-GCM nonce and tag around each chunk
constexpr uint64_t kInstanceBytes = 524288;  // a 512x512 16-bit slice's pixel data

absl::StatusOr<TransportSecurity> SecurityAs(const std::string& tls_dir, const std::string& name) {
  return TransportSecurity::MutualTls(
      DefaultFilesystem(),
      {tls_dir + "/ca.crt", tls_dir + "/" + name + ".crt", tls_dir + "/" + name + ".key"});
}

// A channel that has finished its TLS handshake, or null.
std::shared_ptr<grpc::Channel> Connected(const std::string& address,
                                         const TransportSecurity& security,
                                         absl::string_view peer) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(address, security, peer);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)))
    return nullptr;
  return channel;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetaGroupClient>> MetaGroupClient::Connect(
    const std::string& addresses, const std::string& tls_dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> members, ParseAddressList(addresses));
  // Only the frontend's role may commit (metaserver/service/meta_service.cc, MetaServicePolicy).
  ASSIGN_OR_RETURN(TransportSecurity security, SecurityAs(tls_dir, "frontend"));
  std::string unreachable;
  auto group = std::make_unique<GroupChannels>(members, [&](const std::string& address) {
    std::shared_ptr<grpc::Channel> channel = Connected(address, security, kMetaServerPeer);
    if (channel != nullptr) return channel;
    unreachable = address;
    return MakeChannel(address, security, kMetaServerPeer);
  });
  if (!unreachable.empty())
    return absl::UnavailableError(absl::StrCat("cannot connect to metaserver ", unreachable));
  return std::unique_ptr<MetaGroupClient>(new MetaGroupClient(std::move(group)));
}

template <typename Request, typename Response>
absl::Status MetaGroupClient::Call(UnaryMethod<Request, Response> method, const Request& request,
                                   Response* response) {
  return group_->Call(
      [&](const std::shared_ptr<grpc::Channel>& channel,
          std::chrono::system_clock::time_point deadline) {
        grpc::ClientContext context;
        context.set_deadline(deadline);
        response->Clear();
        std::unique_ptr<v1::MetaService::Stub> stub = v1::MetaService::NewStub(channel);
        return FromGrpcStatus(((*stub).*method)(&context, request, response));
      },
      kCallBudget);
}

absl::StatusOr<std::vector<std::string>> MetaGroupClient::ChunkServerIds() {
  v1::ListChunkServersResponse response;
  RETURN_IF_ERROR(
      Call(&v1::MetaService::Stub::ListChunkServers, v1::ListChunkServersRequest(), &response));
  std::vector<std::string> ids;
  for (const v1::ChunkServerStatus& s : response.servers()) ids.push_back(s.server().server_id());
  if (ids.empty()) ids = {"scale-bench-0", "scale-bench-1", "scale-bench-2"};
  return ids;
}

absl::StatusOr<bool> MetaGroupClient::Commit(const v1::InstanceTags& tags,
                                             const std::string& digest,
                                             const std::vector<std::string>& servers) {
  v1::CommitInstanceRequest request;
  *request.mutable_tags() = tags;
  v1::ObjectManifest& manifest = *request.mutable_manifest();
  ASSIGN_OR_RETURN(std::string object_id, RandomBytes(16));
  ASSIGN_OR_RETURN(std::string chunk_id, RandomBytes(16));
  ASSIGN_OR_RETURN(std::string crc, RandomBytes(4));
  manifest.set_object_id(object_id);
  manifest.set_size(kInstanceBytes);
  manifest.set_sha256(digest);
  manifest.set_chunk_size(kChunkSize);
  v1::ChunkLocation& chunk = *manifest.add_chunks();
  chunk.set_chunk_id(chunk_id);
  chunk.set_stored_size(kInstanceBytes + kEnvelopeBytes);
  chunk.set_crc32c(static_cast<uint32_t>(static_cast<uint8_t>(crc[0])) << 24 |
                   static_cast<uint32_t>(static_cast<uint8_t>(crc[1])) << 16 |
                   static_cast<uint32_t>(static_cast<uint8_t>(crc[2])) << 8 |
                   static_cast<uint8_t>(crc[3]));
  for (size_t i = 0; i < servers.size() && i < 3; ++i) chunk.add_server_ids(servers[i]);

  v1::CommitInstanceResponse response;
  RETURN_IF_ERROR(Call(&v1::MetaService::Stub::CommitInstance, request, &response));
  return response.already_stored();
}

absl::StatusOr<int> MetaGroupClient::Find(const v1::StudyQuery& query) {
  v1::FindStudiesMetaRequest request;
  *request.mutable_query() = query;
  v1::FindStudiesMetaResponse response;
  RETURN_IF_ERROR(Call(&v1::MetaService::Stub::FindStudies, request, &response));
  return response.page().studies_size();
}

absl::StatusOr<std::unique_ptr<FrontendClient>> FrontendClient::Connect(
    const std::string& address, const std::string& tls_dir) {
  ASSIGN_OR_RETURN(TransportSecurity security, SecurityAs(tls_dir, "client"));
  std::shared_ptr<grpc::Channel> channel = Connected(address, security, kFrontendPeer);
  if (channel == nullptr)
    return absl::UnavailableError(absl::StrCat("cannot connect to the frontend ", address));
  return std::unique_ptr<FrontendClient>(new FrontendClient(v1::ImageStore::NewStub(channel)));
}

absl::StatusOr<int> FrontendClient::Find(const v1::StudyQuery& query) {
  v1::FindStudiesRequest request;
  *request.mutable_query() = query;
  v1::FindStudiesResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallBudget);
  RETURN_IF_ERROR(FromGrpcStatus(stub_->FindStudies(&context, request, &response)));
  return response.page().studies_size();
}

ProcessWatch::ProcessWatch(const std::string& pids, const std::string& dirs)
    : pids_(absl::StrSplit(pids, ',', absl::SkipEmpty())),
      dirs_(absl::StrSplit(dirs, ',', absl::SkipEmpty())) {}

WatchFigures ProcessWatch::Sample() const {
  WatchFigures f;
  for (const std::string& pid : pids_) {
    std::ifstream status("/proc/" + pid + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) != 0) continue;
      std::istringstream fields(line.substr(6));
      double kb = 0;
      fields >> kb;
      f.max_rss_mb = std::max(f.max_rss_mb, kb * 1024 / 1e6);
    }
  }
  namespace fs = std::filesystem;
  for (const std::string& dir : dirs_) {
    uint64_t bytes = 0;
    std::error_code ec;
    // RocksDB deletes files while compacting: skip what vanished rather than fail.
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code size_error;
      if (it->is_regular_file(size_error)) {
        const uintmax_t size = it->file_size(size_error);
        if (!size_error) bytes += size;
      }
    }
    f.max_dir_mb = std::max(f.max_dir_mb, bytes / 1e6);
  }
  std::ifstream("/proc/loadavg") >> f.load_average;
  return f;
}

}  // namespace medvault::bench::scale
