// `medvault rm`: delete a study or one instance.
#include "cli/commands.h"
#include "cli/format.h"
#include "common/rpc.h"

namespace medvault::cli {

int RunRm(const CommandContext& ctx, const RmArgs& args) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  grpc::Status status;
  if (!args.study_uid.empty()) {
    v1::DeleteStudyRequest request;
    request.set_study_uid(args.study_uid);
    v1::DeleteStudyResponse response;
    status = ctx.stub->DeleteStudy(&context, request, &response);
    if (status.ok()) {
      *ctx.out << "deleted study (" << response.instances_deleted()
               << (response.instances_deleted() == 1 ? " instance)" : " instances)") << "\n";
    }
  } else {
    v1::DeleteInstanceRequest request;
    request.set_sop_instance_uid(args.instance_uid);
    v1::DeleteInstanceResponse response;
    status = ctx.stub->DeleteInstance(&context, request, &response);
    if (status.ok()) *ctx.out << "deleted instance\n";
  }
  if (!status.ok()) {
    *ctx.err << FormatError("rm", FromGrpcStatus(status)) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace medvault::cli
