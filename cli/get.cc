// `medvault get`: stream instances from ImageStore.GetInstance into local files, atomically; a
// study (`--study`) through one ImageStore.RetrieveStudy stream (one key release for the set).
#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
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

// Streams `study` through ImageStore.RetrieveStudy (one call: the frontend releases the study's
// keys in one audited key-service call and reads ahead). Each instance whose `path_of` is not
// empty is written there as `get` writes files (a .partial file checked against the instance's
// size and SHA-256, synced, renamed), and `done` gets its outcome; instances the stream does not
// deliver (after an error ends it) are not reported. The call's deadline is the per-call timeout
// times `count`.
void RetrieveStudyInto(
    const CommandContext& ctx, const std::string& study, size_t count,
    const std::function<std::string(const std::string& sop)>& path_of,
    const std::function<void(const std::string& sop, const absl::StatusOr<uint64_t>&)>& done) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout * static_cast<int64_t>(std::max<size_t>(1, count)));
  v1::RetrieveStudyRequest request;
  request.set_study_uid(study);
  std::unique_ptr<grpc::ClientReaderInterface<v1::RetrieveStudyResponse>> reader =
      ctx.stub->RetrieveStudy(&context, request);
  struct Current {
    std::string sop, path;
    v1::InstanceInfo info;
    std::unique_ptr<WritableFile> file;
    Sha256Hasher hasher;
    uint64_t written = 0;
    absl::Status status;
  };
  std::unique_ptr<Current> cur;
  // Ends the current instance; `whole`: the stream moved on past it or ended cleanly.
  auto finish = [&](bool whole) {
    if (cur == nullptr) return;
    const std::string partial = cur->path + ".partial";
    absl::Status s = cur->status;
    if (s.ok() && !whole) s = absl::UnavailableError("the study stream ended inside the instance");
    if (s.ok() && cur->written != cur->info.size()) {
      s = absl::DataLossError(
          absl::StrCat("received ", cur->written, " bytes, expected ", cur->info.size()));
    }
    if (s.ok() && !cur->info.sha256().empty() && cur->hasher.Finish() != cur->info.sha256()) {
      s = absl::DataLossError("received bytes do not match the instance's SHA-256");
    }
    if (s.ok()) s = cur->file->Sync();
    if (cur->file != nullptr) {
      absl::Status closed = cur->file->Close();
      if (s.ok()) s = closed;
    }
    if (s.ok()) s = ctx.fs->Rename(partial, cur->path);
    if (s.ok()) {
      ctx.fs->SyncDir(ParentDir(cur->path)).IgnoreError();
    } else {
      ctx.fs->DeleteFile(partial).IgnoreError();
    }
    done(cur->sop, s.ok() ? absl::StatusOr<uint64_t>(cur->written) : absl::StatusOr<uint64_t>(s));
    cur.reset();
  };
  bool skipping = false;  // the current instance is not wanted
  v1::RetrieveStudyResponse piece;
  while (reader->Read(&piece)) {
    if (piece.has_info()) {
      finish(true);
      const std::string sop = piece.info().tags().sop_instance_uid();
      const std::string path = path_of(sop);
      skipping = path.empty();
      if (skipping) continue;
      cur = std::make_unique<Current>();
      cur->sop = sop;
      cur->path = path;
      cur->info = piece.info();
      absl::StatusOr<std::unique_ptr<WritableFile>> file =
          ctx.fs->NewWritableFile(path + ".partial");
      if (file.ok()) {
        cur->file = *std::move(file);
      } else {
        cur->status = file.status();
      }
    }
    if (skipping || cur == nullptr || !cur->status.ok() || piece.data().empty()) continue;
    if (piece.offset() != cur->written) {
      cur->status = absl::DataLossError(absl::StrCat("server sent bytes at offset ", piece.offset(),
                                                     ", expected ", cur->written));
      continue;
    }
    cur->status = cur->file->Append(piece.data());
    cur->hasher.Update(piece.data());
    cur->written += piece.data().size();
  }
  finish(reader->Finish().ok());
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
    size_t series;     // index into dirs
    std::string mime;  // a document's media type (the index's), empty for an image
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
      Item item{sop, absl::StrCat(dir.path, "/", sop, ".dcm"), dir.error, dirs.size(),
                instance.tags().mime_type()};
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
  // One outcome line per instance, counted.
  auto report = [&](const Item& item, const absl::StatusOr<uint64_t>& result) {
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (result.ok()) {
      ++written;
      ++dirs[item.series].written;
      if (!args.quiet) {
        *ctx.err << "[" << done << "/" << items.size() << "] " << item.path << ": "
                 << FormatSize(*result);
        if (!item.mime.empty()) *ctx.err << " (document, " << item.mime << ")";
        *ctx.err << "\n";
      }
    } else {
      ++failed;
      *ctx.err << "[" << done << "/" << items.size() << "] " << item.path
               << ": FAILED: " << FormatStatus(result.status()) << "\n";
    }
    ctx.err->flush();
  };
  // The study in one RetrieveStudy stream: its keys released in one audited call, instances read
  // ahead by the frontend (docs/architecture.md). What it did not deliver whole (an instance
  // unreadable, the stream cut) is then fetched instance by instance, --jobs at a time.
  std::vector<bool> finished(items.size(), false);
  std::map<std::string, size_t> by_sop;
  for (size_t i = 0; i < items.size(); ++i) by_sop.emplace(items[i].sop_uid, i);
  RetrieveStudyInto(
      ctx, args.study_uid, items.size(),
      [&](const std::string& sop) -> std::string {
        auto it = by_sop.find(sop);
        if (it == by_sop.end() || finished[it->second]) return "";
        const Item& item = items[it->second];
        if (!item.error.ok() || !make_dir(item).ok()) return "";  // reported below
        finished[it->second] = true;
        return item.path;
      },
      [&](const std::string& sop, const absl::StatusOr<uint64_t>& result) {
        const size_t i = by_sop.at(sop);
        if (result.ok()) {
          report(items[i], result);
        } else {
          finished[i] = false;  // fetched again alone below
        }
      });
  std::vector<size_t> rest;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!finished[i]) rest.push_back(i);
  }
  ParallelFor(rest.size(), args.jobs, [&](size_t k) {
    const Item& item = items[rest[k]];
    absl::Status ready = item.error.ok() ? make_dir(item) : item.error;
    report(item, ready.ok() ? FetchInstance(*ctx.stub, *ctx.fs, item.sop_uid, 0, 0, item.path,
                                            ctx.timeout, ctx.retry_pause)
                            : absl::StatusOr<uint64_t>(ready));
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
                                       absl::Duration timeout, const RetryPause& pause) {
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
        timeout, pause)
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
      timeout, pause);
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
  absl::StatusOr<uint64_t> written =
      FetchInstance(*ctx.stub, *ctx.fs, args.instance_uid, args.offset, args.length, args.output,
                    ctx.timeout, ctx.retry_pause);
  if (!written.ok()) {
    *ctx.err << FormatError("get", written.status()) << "\n";
    return kExitFailure;
  }
  *ctx.err << args.output << ": " << FormatSize(*written) << "\n";
  return kExitOk;
}

}  // namespace medvault::cli
