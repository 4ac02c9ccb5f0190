// `medvault chunkserver list|drain`: the chunk-server registry and decommissioning, over the
// frontend's Admin service (which forwards to the metaserver).
#include <iomanip>

#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

std::string State(const v1::ChunkServerStatus& s) {
  if (s.drained()) return "drained";
  if (s.draining()) return "draining";
  return "active";
}

void PrintServer(const v1::ChunkServerStatus& s, bool json, std::ostream& out) {
  const v1::ChunkServerInfo& info = s.server();
  if (json) {
    out << "{\"id\":" << JsonQuote(info.server_id()) << ",\"address\":" << JsonQuote(info.address())
        << ",\"failure_domain\":" << JsonQuote(info.failure_domain())
        << ",\"up\":" << (s.up() ? "true" : "false") << ",\"state\":" << JsonQuote(State(s))
        << ",\"chunks\":" << info.chunk_count() << ",\"capacity_bytes\":" << info.capacity_bytes()
        << ",\"free_bytes\":" << info.free_bytes() << "}\n";
    return;
  }
  out << std::left << std::setw(34) << info.server_id() << std::setw(22) << info.address()
      << std::setw(12) << info.failure_domain() << std::setw(6) << (s.up() ? "up" : "down")
      << std::setw(10) << State(s) << std::setw(10) << info.chunk_count() << info.free_bytes()
      << "\n";
}

}  // namespace

int RunChunkserver(const CommandContext& ctx, const ChunkserverArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  if (args.action == ChunkserverArgs::Action::kDrain) {
    v1::DrainChunkServerRequest request;
    request.set_server_id(args.server_id);
    request.set_undo(args.undo);
    v1::DrainChunkServerResponse response;
    grpc::Status status = ctx.admin->DrainChunkServer(&context, request, &response);
    if (!status.ok()) {
      *ctx.err << FormatError("chunkserver drain", FromGrpcStatus(status)) << "\n";
      return kExitFailure;
    }
    *ctx.out
        << (args.undo
                ? "chunk server " + args.server_id + " takes new chunks again\n"
                : "draining chunk server " + args.server_id +
                      "; `medvault chunkserver list` says drained when it can be switched off\n");
    return kExitOk;
  }
  v1::ListChunkServersResponse response;
  grpc::Status status =
      ctx.admin->ListChunkServers(&context, v1::ListChunkServersRequest(), &response);
  if (!status.ok()) {
    *ctx.err << FormatError("chunkserver list", FromGrpcStatus(status)) << "\n";
    return kExitFailure;
  }
  if (!args.json) {
    *ctx.out << std::left << std::setw(34) << "id" << std::setw(22) << "address" << std::setw(12)
             << "domain" << std::setw(6) << "up" << std::setw(10) << "state" << std::setw(10)
             << "chunks"
             << "free_bytes\n";
  }
  for (const v1::ChunkServerStatus& s : response.servers()) PrintServer(s, args.json, *ctx.out);
  return kExitOk;
}

}  // namespace medvault::cli
