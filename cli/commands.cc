// Dispatch of a parsed command to its verb, over a real channel to the frontend.
#include "cli/commands.h"

#include "common/rpc.h"

namespace medvault::cli {

int RunCommand(const Command& cmd, std::ostream& out, std::ostream& err) {
  if (cmd.verb == Verb::kHelp) {
    out << UsageText();
    return kExitOk;
  }
  CommandContext ctx;
  ctx.fs = DefaultFilesystem();
  ctx.out = &out;
  ctx.err = &err;
  ctx.timeout = cmd.global.timeout;
  if (cmd.verb == Verb::kHealth) return RunHealth(ctx, cmd.health);

  std::unique_ptr<v1::ImageStore::Stub> stub =
      v1::ImageStore::NewStub(MakeChannel(cmd.global.frontend));
  ctx.stub = stub.get();
  switch (cmd.verb) {
    case Verb::kPut:
      return RunPut(ctx, cmd.put);
    case Verb::kGet:
      return RunGet(ctx, cmd.get);
    case Verb::kFind:
      return RunFind(ctx, cmd.find);
    case Verb::kRm:
      return RunRm(ctx, cmd.rm);
    case Verb::kHealth:
    case Verb::kHelp:
      break;
  }
  return kExitUsage;
}

}  // namespace medvault::cli
