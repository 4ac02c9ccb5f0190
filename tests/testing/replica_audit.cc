#include "tests/testing/replica_audit.h"

#include <functional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/status_macros.h"
#include "medvault/v1/chunkserver.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"
#include "tests/testing/image_store_calls.h"

namespace medvault::testing {

absl::StatusOr<AuditResult> AuditReplicas(const ExternalCluster& cluster,
                                          const std::map<std::string, std::string>& acked,
                                          int replicas) {
  auto frontend = v1::ImageStore::NewStub(cluster.Channel(cluster.frontend(), kFrontendPeer));
  // A single metaserver (replicas == 1 clusters): its address is the group.
  auto meta = v1::MetaService::NewStub(
      MakeChannel(cluster.metaserver(), cluster.SecurityAs("frontend"), kMetaServerPeer));
  const TransportSecurity as_metaserver = cluster.SecurityAs("metaserver");
  std::map<std::string, std::unique_ptr<v1::ChunkService::Stub>> chunk_stubs;
  AuditResult result;
  size_t n = 0;
  for (const auto& [uid, bytes] : acked) {
    ++n;
    absl::StatusOr<std::string> read = GetInstance(frontend.get(), uid);
    if (!read.ok())
      return Annotate(read.status(), absl::StrCat("reading acknowledged instance #", n));
    if (*read != bytes)
      return absl::DataLossError(
          absl::StrCat("acknowledged instance #", n, " reads back different"));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetInstanceMetaRequest req;
    req.set_sop_instance_uid(uid);
    v1::GetInstanceMetaResponse meta_resp;
    absl::Status s = FromGrpcStatus(meta->GetInstance(&ctx, req, &meta_resp));
    if (!s.ok()) return Annotate(s, absl::StrCat("manifest of instance #", n));
    for (const v1::ChunkLocation& chunk : meta_resp.manifest().chunks()) {
      ++result.chunks;
      result.chunk_ids.insert(chunk.chunk_id());
      const std::set<std::string> servers(chunk.server_ids().begin(), chunk.server_ids().end());
      if (static_cast<int>(servers.size()) != replicas || chunk.server_ids_size() != replicas) {
        return absl::FailedPreconditionError(
            absl::StrCat("chunk ", ToHex(chunk.chunk_id()), " of instance #", n, " has ",
                         chunk.server_ids_size(), " replicas listed, ", servers.size(),
                         " distinct; want ", replicas));
      }
      for (const std::string& server : servers) {
        auto addr = meta_resp.server_addresses().find(server);
        if (addr == meta_resp.server_addresses().end())
          return absl::NotFoundError("a listed server has no address");
        auto& stub = chunk_stubs[addr->second];
        if (!stub)
          stub =
              v1::ChunkService::NewStub(MakeChannel(addr->second, as_metaserver, kChunkServerPeer));
        grpc::ClientContext cctx;
        cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::ReadChunkRequest creq;
        creq.set_chunk_id(chunk.chunk_id());
        v1::ReadChunkResponse cresp;
        s = FromGrpcStatus(stub->ReadChunk(&cctx, creq, &cresp));
        if (!s.ok()) {
          return Annotate(
              s, absl::StrCat("replica of chunk ", ToHex(chunk.chunk_id()), " on server ", server));
        }
        if (cresp.data().size() != chunk.stored_size() || Crc32c(cresp.data()) != chunk.crc32c()) {
          return absl::DataLossError(absl::StrCat("replica of chunk ", ToHex(chunk.chunk_id()),
                                                  " on ", server, " does not match its manifest"));
        }
        ++result.replicas;
        ++result.per_server[server];
      }
    }
    ++result.instances;
  }
  return result;
}

absl::StatusOr<AuditResult> WaitForFullReplication(const ExternalCluster& cluster,
                                                   const std::map<std::string, std::string>& acked,
                                                   int replicas, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Repair is work inside other processes with no push notification: check until it holds.
  for (;;) {
    absl::StatusOr<AuditResult> audit = AuditReplicas(cluster, acked, replicas);
    if (audit.ok() || std::chrono::steady_clock::now() >= deadline) return audit;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

absl::StatusOr<double> WaitForMetric(const ExternalCluster& cluster, const std::string& name,
                                     const std::string& metric,
                                     const std::function<bool(double)>& pred,
                                     std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    absl::StatusOr<double> v = cluster.Metric(name, metric);
    if (v.ok() && pred(*v)) return v;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!v.ok()) return v.status();
      return absl::DeadlineExceededError(absl::StrCat(metric, " of ", name, " stayed at ", *v));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace medvault::testing
