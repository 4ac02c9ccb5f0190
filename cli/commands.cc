// Dispatch of a parsed command to its verb, over a real channel to the frontend.
#include "cli/commands.h"

#include "common/rpc.h"
#include "common/tls.h"

namespace medvault::cli {
namespace {

// The CLI's RetryPause. A channel that is connected got its UNAVAILABLE from the server (a group
// changing leader): the whole backoff is waited. Otherwise the wait polls the channel, which is
// what lets it reconnect (AwaitChannelReady), and ends as soon as it has.
void PauseOnChannel(grpc::Channel& channel, absl::Duration wait) {
  if (channel.GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY) {
    SleepBetweenAttempts(wait);
  } else {
    AwaitChannelReady(channel, wait);
  }
}

}  // namespace

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

  absl::StatusOr<TransportSecurity> security =
      cmd.global.insecure_plaintext ? TransportSecurity::InsecurePlaintext()
                                    : TransportSecurity::MutualTls(ctx.fs, cmd.global.tls);
  if (!security.ok()) {
    err << "medvault: " << security.status().message() << "\n";
    if (cmd.global.tls_from_default_dir) {
      err << "medvault: the default client certificate is the local cluster's (made by "
             "scripts/cluster up);\n"
          << "  give --tls_ca, --tls_cert and --tls_key, set MEDVAULT_TLS_DIR to a cluster's tls/ "
             "folder,\n"
          << "  or pass --insecure_plaintext for a server started with --insecure_plaintext\n";
    }
    return kExitFailure;
  }
  ctx.security = &*security;
  ctx.server_name = cmd.global.tls_server_name;
  if (cmd.verb == Verb::kHealth) return RunHealth(ctx, cmd.health);

  std::shared_ptr<grpc::Channel> channel =
      MakeChannel(cmd.global.frontend, *security, cmd.global.tls_server_name);
  std::unique_ptr<v1::ImageStore::Stub> stub = v1::ImageStore::NewStub(channel);
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  ctx.stub = stub.get();
  ctx.admin = admin.get();
  ctx.retry_pause = [&channel](absl::Duration wait) { PauseOnChannel(*channel, wait); };
  switch (cmd.verb) {
    case Verb::kPut:
      return RunPut(ctx, cmd.put);
    case Verb::kGet:
      return RunGet(ctx, cmd.get);
    case Verb::kFind:
      return RunFind(ctx, cmd.find);
    case Verb::kRm:
      return RunRm(ctx, cmd.rm);
    case Verb::kKek:
      return RunKek(ctx, cmd.kek);
    case Verb::kAudit:
      return RunAudit(ctx, cmd.audit);
    case Verb::kChunkserver:
      return RunChunkserver(ctx, cmd.chunkserver);
    case Verb::kScrub:
      return RunScrub(ctx, cmd.scrub);
    case Verb::kFsck:
      return RunFsck(ctx, cmd.fsck);
    case Verb::kImport:
      return RunImport(ctx, cmd.import);
    case Verb::kAttach:
      return RunAttach(ctx, cmd.attach);
    case Verb::kRaft:
      return RunRaft(ctx, cmd.raft);
    case Verb::kShare:
      return RunShare(ctx, cmd.share);
    case Verb::kExport:
      return RunExport(ctx, cmd.export_);
    case Verb::kBackup:
      return RunBackup(ctx, cmd.backup);
    case Verb::kRetention:
      return RunRetention(ctx, cmd.retention);
    case Verb::kHealth:
    case Verb::kHelp:
      break;
  }
  return kExitUsage;
}

}  // namespace medvault::cli
