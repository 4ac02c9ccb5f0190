// `medvault export --study UID... --out PATH [--format dir|zip|iso]`: the studies as an IHE PDI
// medium (common/media/pdi.h). The index (GetStudy) gives each instance's size, transfer syntax
// and the attributes the medium's pages show; each instance is then streamed from GetInstance
// (checked against its SHA-256) onto the medium, one at a time.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "common/media/pdi.h"
#include "common/media/pdi_index.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

// Hands what ReceiveInstance writes to the medium writer, counting it on the progress bar.
class ForwardingFile : public WritableFile {
 public:
  ForwardingFile(const media::WriteFn& write, ProgressBar& progress)
      : write_(write), progress_(progress) {}
  absl::Status Append(absl::string_view data) override {
    progress_.Add(0, data.size());
    return write_(data);
  }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  const media::WriteFn& write_;
  ProgressBar& progress_;
};

absl::StatusOr<std::vector<media::PdiInstance>> ListInstances(const CommandContext& ctx,
                                                              const ExportArgs& args) {
  std::vector<media::PdiInstance> instances;
  for (const std::string& uid : args.study_uids) {
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    v1::GetStudyRequest request;
    request.set_study_uid(uid);
    v1::GetStudyResponse response;
    grpc::Status status = ctx.stub->GetStudy(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    for (media::PdiInstance& i : media::PdiInstancesOf(response)) instances.push_back(std::move(i));
  }
  return instances;
}

std::string ScratchParent() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

}  // namespace

int RunExport(const CommandContext& ctx, const ExportArgs& args) {
  absl::StatusOr<media::MediaFormat> format = media::ParseMediaFormat(args.format);
  absl::StatusOr<std::vector<media::PdiInstance>> instances =
      format.ok() ? ListInstances(ctx, args) : format.status();
  if (instances.ok() && instances->empty()) {
    instances = absl::NotFoundError("the studies hold no instance");
  }
  absl::StatusOr<std::string> viewer = args.viewer ? media::FindViewerDir() : std::string();
  if (instances.ok() && !viewer.ok()) instances = viewer.status();
  if (!instances.ok()) {
    *ctx.err << FormatError("export", instances.status()) << "\n";
    return kExitFailure;
  }
  const bool show = !args.quiet && ::isatty(STDERR_FILENO) == 1;
  ProgressBar progress(ctx.err, RealClock(), show, StderrTerminalWidth());
  // An ISO image is laid out and written when the sink closes, after the instances: a phase of
  // its own on the bar, as long as writing the medium.
  media::CloseProgress image_progress;
  uint64_t image_written = 0;
  if (*format == media::MediaFormat::kIso) {
    image_progress.begin = [&](uint64_t estimate) {
      progress.StartPhase("ISO image", 0, estimate);
    };
    image_progress.written = [&](uint64_t written) {
      progress.Add(0, written - image_written);
      image_written = written;
    };
  }
  absl::StatusOr<std::unique_ptr<media::MediaSink>> sink =
      *format == media::MediaFormat::kDirectory
          ? media::NewDirectorySink(args.out)
          : media::NewArchiveFileSink(args.out, *format, "MEDVAULT", image_progress);
  if (!sink.ok()) {
    *ctx.err << FormatError("export", sink.status()) << "\n";
    return kExitFailure;
  }
  uint64_t total = 0;
  for (const media::PdiInstance& i : *instances) total += i.size;
  progress.SetTotal(instances->size(), total);

  media::PdiOptions options;
  options.scratch_dir = ScratchParent();
  options.viewer_dir = *viewer;
  options.on_instance = [&](uint64_t) { progress.Add(1, 0); };
  const std::vector<media::PdiInstance>& list = *instances;
  absl::StatusOr<media::PdiSummary> summary = media::WritePdi(
      list,
      [&](size_t index, const media::WriteFn& write) {
        ForwardingFile file(write, progress);
        uint64_t written = 0;
        return ReceiveInstance(*ctx.stub, file, list[index].sop_instance_uid, 0, 0, ctx.timeout,
                               &written);
      },
      **sink, options);
  if (image_written > 0) progress.SetTotal(0, image_written);  // the image's exact size, known now
  progress.Finish();
  if (!summary.ok()) {
    *ctx.err << FormatError("export", summary.status()) << "\n";
    return kExitFailure;
  }
  *ctx.out << "export: " << summary->instances << " instances, " << summary->bytes << " bytes, "
           << summary->documents << " documents, profile " << media::ProfileName(summary->profile)
           << ", written to " << args.out << " (" << args.format << ")\n";
  return kExitOk;
}

}  // namespace medvault::cli
