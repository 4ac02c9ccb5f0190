// `medvault find`: page through ImageStore.FindStudies and print the studies.
#include <algorithm>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/retry.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {
// Largest page the server accepts.
constexpr uint64_t kMaxPageSize = 1000;
}  // namespace

absl::StatusOr<std::vector<v1::StudySummary>> FindAllStudies(v1::ImageStore::StubInterface& stub,
                                                             const FindArgs& args,
                                                             absl::Duration timeout,
                                                             const RetryPause& pause) {
  std::vector<v1::StudySummary> studies;
  v1::FindStudiesRequest request;
  v1::StudyQuery* query = request.mutable_query();
  query->set_patient_id(args.patient_id);
  query->set_modality(args.modality);
  query->set_study_date_from(args.date_from);
  query->set_study_date_to(args.date_to);
  for (;;) {
    uint64_t want = kMaxPageSize;
    if (args.limit != 0) want = std::min(want, args.limit - studies.size());
    query->set_page_size(static_cast<uint32_t>(want));
    v1::FindStudiesResponse response;
    absl::Status status = RetryUnavailable(
        [&] {
          grpc::ClientContext context;
          SetDeadline(&context, timeout);
          response.Clear();
          return FromGrpcStatus(stub.FindStudies(&context, request, &response));
        },
        timeout, pause);
    if (!status.ok()) return status;
    for (v1::StudySummary& s : *response.mutable_page()->mutable_studies()) {
      if (args.limit != 0 && studies.size() >= args.limit) break;
      studies.push_back(std::move(s));
    }
    const std::string& next = response.page().next_page_token();
    if (next.empty() || (args.limit != 0 && studies.size() >= args.limit)) break;
    if (next == query->page_token()) {
      return absl::InternalError("server returned the same page token twice");
    }
    query->set_page_token(next);
  }
  return studies;
}

int RunFind(const CommandContext& ctx, const FindArgs& args) {
  absl::StatusOr<std::vector<v1::StudySummary>> studies =
      FindAllStudies(*ctx.stub, args, ctx.timeout, ctx.retry_pause);
  if (!studies.ok()) {
    *ctx.err << FormatError("find", studies.status()) << "\n";
    return kExitFailure;
  }
  if (args.json) {
    *ctx.out << StudiesToJson(*studies);
  } else {
    *ctx.out << StudiesTable(*studies);
    *ctx.err << studies->size() << (studies->size() == 1 ? " study" : " studies") << "\n";
  }
  ctx.out->flush();
  return kExitOk;
}

}  // namespace medvault::cli
