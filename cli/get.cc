// `medvault get`: stream instances from ImageStore.GetInstance into local files, atomically.
#include <filesystem>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/parallel.h"
#include "common/crypto.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Reads the whole GetInstance stream into `file`, checking it. Leaves the call finished.
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
  struct Item {
    std::string sop_uid;
    std::string path;
    absl::Status error;
  };
  std::vector<Item> items;
  for (const v1::SeriesInfo& series : study.series()) {
    absl::Status series_error;
    std::string dir = absl::StrCat(args.output, "/", series.series_uid());
    if (!SafeFileName(series.series_uid())) {
      series_error = absl::InvalidArgumentError("series UID is not usable as a folder name");
    } else {
      series_error = ctx.fs->CreateDirs(dir);
    }
    for (const v1::InstanceInfo& instance : series.instances()) {
      const std::string& sop = instance.tags().sop_instance_uid();
      Item item{sop, absl::StrCat(dir, "/", sop, ".dcm"), series_error};
      if (item.error.ok() && !SafeFileName(sop)) {
        item.error = absl::InvalidArgumentError("instance UID is not usable as a file name");
      }
      items.push_back(std::move(item));
    }
  }

  std::mutex mu;  // guards the counters and *ctx.err
  size_t done = 0, written = 0, failed = 0;
  ParallelFor(items.size(), args.jobs, [&](size_t i) {
    const Item& item = items[i];
    absl::StatusOr<uint64_t> result =
        item.error.ok()
            ? FetchInstance(*ctx.stub, *ctx.fs, item.sop_uid, 0, 0, item.path, ctx.timeout)
            : absl::StatusOr<uint64_t>(item.error);
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (result.ok()) {
      ++written;
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
  *ctx.err << written << " written, " << failed << " failed\n";
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

absl::StatusOr<uint64_t> FetchInstance(v1::ImageStore::StubInterface& stub, Filesystem& fs,
                                       const std::string& sop_instance_uid, uint64_t offset,
                                       uint64_t length, const std::string& path,
                                       absl::Duration timeout) {
  const std::string partial = path + ".partial";
  absl::StatusOr<std::unique_ptr<WritableFile>> file = fs.NewWritableFile(partial);
  if (!file.ok()) return file.status();
  uint64_t written = 0;
  absl::Status status =
      ReceiveInstance(stub, **file, sop_instance_uid, offset, length, timeout, &written);
  if (status.ok()) status = (*file)->Sync();
  absl::Status closed = (*file)->Close();
  if (status.ok()) status = closed;
  if (status.ok()) status = fs.Rename(partial, path);
  if (!status.ok()) {
    fs.DeleteFile(partial).IgnoreError();
    return status;
  }
  // The rename is done; making it durable is best effort (the data itself is synced).
  fs.SyncDir(ParentDir(path)).IgnoreError();
  return written;
}

int RunGet(const CommandContext& ctx, const GetArgs& args) {
  if (!args.study_uid.empty()) return GetStudy(ctx, args);
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
