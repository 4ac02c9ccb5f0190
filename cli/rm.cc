// `medvault rm`: delete a study or one instance. Retried like reads (cli/retry.h, RetryDelete): a
// delete whose answer was lost while the frontend or a group restarted is repeated, and "not found"
// on that repeat means the object is gone.
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/retry.h"
#include "common/rpc.h"

namespace medvault::cli {

int RunRm(const CommandContext& ctx, const RmArgs& args) {
  const bool study = !args.study_uid.empty();
  uint64_t instances_deleted = 0;
  DeleteOutcome outcome = RetryDelete(
      [&] {
        grpc::ClientContext context;
        SetDeadline(&context, ctx.timeout);
        if (study) {
          v1::DeleteStudyRequest request;
          request.set_study_uid(args.study_uid);
          v1::DeleteStudyResponse response;
          grpc::Status status = ctx.stub->DeleteStudy(&context, request, &response);
          instances_deleted = response.instances_deleted();
          return FromGrpcStatus(status);
        }
        v1::DeleteInstanceRequest request;
        request.set_sop_instance_uid(args.instance_uid);
        v1::DeleteInstanceResponse response;
        return FromGrpcStatus(ctx.stub->DeleteInstance(&context, request, &response));
      },
      ctx.timeout, ctx.retry_pause);
  if (!outcome.status.ok()) {
    *ctx.err << FormatError("rm", outcome.status) << "\n";
    return kExitFailure;
  }
  const char* what = study ? "study" : "instance";
  if (outcome.gone_on_retry) {
    // The interrupted attempt's answer (with its count) was lost; the object is gone either way.
    *ctx.out << "deleted " << what << " (an interrupted attempt deleted it: not found on retry)\n";
  } else if (study) {
    *ctx.out << "deleted study (" << instances_deleted
             << (instances_deleted == 1 ? " instance)" : " instances)") << "\n";
  } else {
    *ctx.out << "deleted instance\n";
  }
  return kExitOk;
}

}  // namespace medvault::cli
