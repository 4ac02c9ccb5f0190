// `medvault get`: stream instances from ImageStore.GetInstance into local files, atomically.
#include <filesystem>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/parallel.h"
#include "cli/retry.h"
#include "common/crypto.h"
#include "common/rpc.h"
#include "common/status_macros.h"

namespace medvault::cli {
namespace {

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

absl::Status ReceiveInstance(v1::ImageStore::StubInterface& stub, WritableFile& file,
                             const std::string& sop_instance_uid, uint64_t offset, uint64_t length,
                             absl::Duration timeout, uint64_t* written) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  v1::GetInstanceRequest request;
  request.set_sop_instance_uid(sop_instance_uid);
  request.set_offset(offset);
  request.set_length(length);
  std::unique_ptr<grpc::ClientReaderInterface<v1::GetInstanceResponse>> reader =
      stub.GetInstance(&context, request);

  absl::Status local;  // first local failure; the call is cancelled and drained after it
  bool have_info = false;
  v1::InstanceInfo info;
  Sha256Hasher hasher;
  *written = 0;
  v1::GetInstanceResponse piece;
  while (reader->Read(&piece)) {
    if (!local.ok()) continue;
    if (piece.has_info() && !have_info) {
      have_info = true;
      info = piece.info();
    }
    if (piece.data().empty()) continue;
    if (piece.offset() != offset + *written) {
      local = absl::DataLossError(absl::StrCat("server sent bytes at offset ", piece.offset(),
                                               ", expected ", offset + *written));
    } else {
      local = file.Append(piece.data());
      hasher.Update(piece.data());
      *written += piece.data().size();
    }
    if (!local.ok()) context.TryCancel();
  }
  grpc::Status status = reader->Finish();
  if (!local.ok()) return local;
  if (!status.ok()) return FromGrpcStatus(status);

  if (have_info) {
    uint64_t size = info.size();
    uint64_t expected = offset >= size ? 0 : size - offset;
    if (length != 0 && length < expected) expected = length;
    if (*written != expected) {
      return absl::DataLossError(
          absl::StrCat("received ", *written, " bytes, expected ", expected));
    }
    if (offset == 0 && length == 0 && !info.sha256().empty() && hasher.Finish() != info.sha256()) {
      return absl::DataLossError("received bytes do not match the instance's SHA-256");
    }
  }
  return absl::OkStatus();
}

namespace {

// A UID used as a file name: no path separators or special names.
bool SafeFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

int GetStudy(const CommandContext& ctx, const GetArgs& args) {
  v1::GetStudyResponse study;
  {
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    v1::GetStudyRequest request;
    request.set_study_uid(args.study_uid);
    grpc::Status status = ctx.stub->GetStudy(&context, request, &study);
    if (!status.ok()) {
      *ctx.err << FormatError("get", FromGrpcStatus(status)) << "\n";
      return kExitFailure;
    }
  }
  // Series folders are made when their first instance is fetched, so a series whose UID (or
  // every instance UID) is refused gets none; a folder this run made stays only if it holds a
  // file (a series whose every fetch failed leaves nothing behind), as does DIR itself.
  struct SeriesDir {
    std::string path;
    absl::Status error;  // the series UID is refused as a folder name
    bool made = false, existed = false;
    absl::Status made_status;
    size_t written = 0;
  };
  struct Item {
    std::string sop_uid;
    std::string path;
    absl::Status error;
    size_t series;  // index into dirs
  };
  std::vector<SeriesDir> dirs;
  std::vector<Item> items;
  for (const v1::SeriesInfo& series : study.series()) {
    SeriesDir dir;
    dir.path = absl::StrCat(args.output, "/", series.series_uid());
    if (!SafeFileName(series.series_uid())) {
      dir.error = absl::InvalidArgumentError("series UID is not usable as a folder name");
    }
    for (const v1::InstanceInfo& instance : series.instances()) {
      const std::string& sop = instance.tags().sop_instance_uid();
      Item item{sop, absl::StrCat(dir.path, "/", sop, ".dcm"), dir.error, dirs.size()};
      if (item.error.ok() && !SafeFileName(sop)) {
        item.error = absl::InvalidArgumentError("instance UID is not usable as a file name");
      }
      items.push_back(std::move(item));
    }
    dirs.push_back(std::move(dir));
  }
  const bool output_existed = ctx.fs->Exists(args.output);

  std::mutex mu;  // guards dirs, the counters and *ctx.err
  // Makes the item's series folder once; returns why it cannot be made.
  auto make_dir = [&](const Item& item) {
    std::lock_guard<std::mutex> lock(mu);
    SeriesDir& dir = dirs[item.series];
    if (!dir.made) {
      dir.made = true;
      dir.existed = ctx.fs->Exists(dir.path);
      dir.made_status = ctx.fs->CreateDirs(dir.path);
    }
    return dir.made_status;
  };
  size_t done = 0, written = 0, failed = 0;
  ParallelFor(items.size(), args.jobs, [&](size_t i) {
    const Item& item = items[i];
    absl::Status ready = item.error.ok() ? make_dir(item) : item.error;
    absl::StatusOr<uint64_t> result =
        ready.ok() ? FetchInstance(*ctx.stub, *ctx.fs, item.sop_uid, 0, 0, item.path, ctx.timeout)
                   : absl::StatusOr<uint64_t>(ready);
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (result.ok()) {
      ++written;
      ++dirs[item.series].written;
      if (!args.quiet) {
        *ctx.err << "[" << done << "/" << items.size() << "] " << item.path << ": "
                 << FormatSize(*result) << "\n";
      }
    } else {
      ++failed;
      *ctx.err << "[" << done << "/" << items.size() << "] " << item.path
               << ": FAILED: " << FormatStatus(result.status()) << "\n";
    }
    ctx.err->flush();
  });
  for (const SeriesDir& dir : dirs) {
    if (dir.made && !dir.existed && dir.written == 0) RemoveEmptyDir(dir.path).IgnoreError();
  }
  if (!output_existed && written == 0) RemoveEmptyDir(args.output).IgnoreError();
  *ctx.err << written << " written, " << failed << " failed\n";
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

absl::StatusOr<uint64_t> FetchInstance(v1::ImageStore::StubInterface& stub, Filesystem& fs,
                                       const std::string& sop_instance_uid, uint64_t offset,
                                       uint64_t length, const std::string& path,
                                       absl::Duration timeout) {
  ASSIGN_OR_RETURN(OutputTarget target, ResolveOutput(path));
  uint64_t written = 0;
  if (target.kind == OutputTarget::Kind::kStream) {
    // A FIFO or device is written into, never replaced (nor unlinked on failure).
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> stream, OpenStreamForWrite(target.path));
    // Retried only while nothing reached the stream: written bytes cannot be taken back.
    absl::Status status;
    RetryUnavailable(
        [&] {
          status =
              ReceiveInstance(stub, *stream, sop_instance_uid, offset, length, timeout, &written);
          return written == 0 ? status : absl::OkStatus();
        },
        timeout)
        .IgnoreError();  // `status` holds the last attempt's answer
    absl::Status closed = stream->Close();
    if (!status.ok()) return status;
    if (!closed.ok()) return closed;
    return written;
  }
  const std::string partial = target.path + ".partial";
  // Each attempt starts the partial file afresh, so a retry never appends to a failed one.
  absl::Status status = RetryUnavailable(
      [&] {
        written = 0;
        absl::StatusOr<std::unique_ptr<WritableFile>> file = fs.NewWritableFile(partial);
        if (!file.ok()) return file.status();
        absl::Status s =
            ReceiveInstance(stub, **file, sop_instance_uid, offset, length, timeout, &written);
        if (s.ok()) s = (*file)->Sync();
        absl::Status closed = (*file)->Close();
        return s.ok() ? closed : s;
      },
      timeout);
  if (status.ok()) status = fs.Rename(partial, target.path);
  if (!status.ok()) {
    fs.DeleteFile(partial).IgnoreError();
    return status;
  }
  // The rename is done; making it durable is best effort (the data itself is synced).
  fs.SyncDir(ParentDir(target.path)).IgnoreError();
  return written;
}

int RunGet(const CommandContext& ctx, const GetArgs& args) {
  if (!args.study_uid.empty()) return GetStudy(ctx, args);
  if (args.document) return RunGetDocument(ctx, args);
  absl::StatusOr<uint64_t> written = FetchInstance(
      *ctx.stub, *ctx.fs, args.instance_uid, args.offset, args.length, args.output, ctx.timeout);
  if (!written.ok()) {
    *ctx.err << FormatError("get", written.status()) << "\n";
    return kExitFailure;
  }
  *ctx.err << args.output << ": " << FormatSize(*written) << "\n";
  return kExitOk;
}

}  // namespace medvault::cli
