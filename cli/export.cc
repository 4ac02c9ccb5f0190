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

// The built offline viewer (frontend/web/page/build): $MEDVAULT_VIEWER_DIR, else disc-viewer/
// beside the folder of this executable (build/bin/medvault -> build/disc-viewer), else
// /usr/share/medvault/disc-viewer. FAILED_PRECONDITION when none holds it.
absl::StatusOr<std::string> ViewerDir() {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("MEDVAULT_VIEWER_DIR"); dir != nullptr && *dir != '\0') {
    candidates.push_back(dir);
  } else {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back((self.parent_path().parent_path() / "disc-viewer").string());
    candidates.push_back("/usr/share/medvault/disc-viewer");
  }
  for (const std::string& dir : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(dir + "/VIEWER.HTM", ec)) return dir;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the offline viewer is not installed (looked in ", candidates.front(),
                   "); set MEDVAULT_VIEWER_DIR or export with --no-viewer"));
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
  absl::StatusOr<std::string> viewer = args.viewer ? ViewerDir() : std::string();
  if (instances.ok() && !viewer.ok()) instances = viewer.status();
  if (!instances.ok()) {
    *ctx.err << FormatError("export", instances.status()) << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::unique_ptr<media::MediaSink>> sink =
      *format == media::MediaFormat::kDirectory
          ? media::NewDirectorySink(args.out)
          : media::NewArchiveFileSink(args.out, *format, "MEDVAULT");
  if (!sink.ok()) {
    *ctx.err << FormatError("export", sink.status()) << "\n";
    return kExitFailure;
  }
  uint64_t total = 0;
  for (const media::PdiInstance& i : *instances) total += i.size;
  const bool show = !args.quiet && ::isatty(STDERR_FILENO) == 1;
  ProgressBar progress(ctx.err, RealClock(), show, StderrTerminalWidth());
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
