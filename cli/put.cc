// `medvault put`: stream local files to ImageStore.PutInstance.
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/parallel.h"
#include "cli/retry.h"
#include "common/rpc.h"

namespace medvault::cli {

absl::StatusOr<v1::PutInstanceResponse> PutStream(
    v1::ImageStore::StubInterface& stub,
    const std::function<absl::Status(size_t max_bytes, std::string* piece)>& read,
    absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  v1::PutInstanceResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::PutInstanceRequest>> writer =
      stub.PutInstance(&context, &response);
  v1::PutInstanceRequest request;
  for (;;) {
    absl::Status status = read(kPutPieceBytes, request.mutable_data());
    if (!status.ok()) {
      // Abandon the call: the server must not store a truncated file.
      context.TryCancel();
      (void)writer->Finish();
      return status;
    }
    if (request.data().empty()) break;
    // False means the stream is broken (e.g. the server already refused); Finish says why.
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::PutInstanceResponse> PutFile(v1::ImageStore::StubInterface& stub,
                                                const std::string& path, absl::Duration timeout) {
  // Open before calling, so an unreadable file never starts a stream.
  absl::StatusOr<std::unique_ptr<FileReader>> reader = FileReader::Open(path);
  if (!reader.ok()) return reader.status();
  return PutStream(
      stub, [&](size_t max_bytes, std::string* piece) { return (*reader)->Read(max_bytes, piece); },
      timeout);
}

int RunPut(const CommandContext& ctx, const PutArgs& args) {
  std::vector<FileEntry> files = CollectFiles(args.paths);
  const size_t total = files.size();
  std::mutex mu;  // guards the counters and *ctx.err
  size_t done = 0, stored = 0, already = 0, failed = 0;

  ParallelFor(total, args.jobs, [&](size_t i) {
    const FileEntry& file = files[i];
    absl::StatusOr<v1::PutInstanceResponse> result =
        file.error.ok()
            ? RetryUnavailable([&] { return PutFile(*ctx.stub, file.path, ctx.timeout); },
                               ctx.timeout, ctx.retry_pause)
            : absl::StatusOr<v1::PutInstanceResponse>(file.error);
    std::string outcome;
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (!result.ok()) {
      ++failed;
      outcome = absl::StrCat("FAILED: ", FormatStatus(result.status()));
    } else if (result->already_stored()) {
      ++already;
      outcome = "already stored";
    } else {
      ++stored;
      outcome = absl::StrCat("stored ", FormatSize(result->size()));
    }
    if (!args.quiet || !result.ok()) {
      *ctx.err << "[" << done << "/" << total << "] " << file.path << ": " << outcome << "\n";
      ctx.err->flush();
    }
  });
  *ctx.err << stored << " stored, " << already << " already stored, " << failed << " failed\n";
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace medvault::cli
