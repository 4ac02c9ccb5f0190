// `medvault import PATH`: stores what a medium holds (a folder or mounted disc, a ZIP file, an ISO
// image). With a DICOMDIR, exactly the files it references and the documents' instances a
// medvault export puts under DOCUMENT/ (cli/dicomdir.h); without one, every DICOM Part 10 file.
// Instances the index already holds (same SOP Instance UID and size, looked up once per study the
// DICOMDIR names) are skipped without reading them; the rest are sent, and the server's idempotent
// answer ("already stored") covers what the DICOMDIR did not name.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/archive.h"
#include "cli/commands.h"
#include "cli/dicomdir.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/parallel.h"
#include "cli/progress.h"
#include "common/rpc.h"

namespace medvault::cli {
namespace {

constexpr uint64_t kMaxDicomDirBytes = 64 << 20;
// Archive entries up to this size are read into memory and handed to a worker; larger ones are
// streamed by the reading thread itself (an archive is read in one pass, in order).
constexpr uint64_t kBufferedEntryBytes = 16 << 20;

// What happened to each file; thread-safe.
class Tally {
 public:
  void Stored() { Count(&stored_); }
  void Already() { Count(&already_); }
  void NotDicom() { Count(&not_dicom_); }
  void Refused(const std::string& path, const absl::Status& why) {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.emplace(path, FormatStatus(why));
  }
  // The summary lines; returns whether anything was refused.
  bool Print(std::ostream& out, uint64_t ignored, bool from_dicomdir) {
    std::lock_guard<std::mutex> lock(mu_);
    out << "import: " << stored_ << " stored, " << already_ << " already stored, "
        << refused_.size() << " refused";
    const uint64_t other = ignored + not_dicom_;
    if (other > 0) {
      out << ", " << other
          << (from_dicomdir ? " other files not referenced by the DICOMDIR"
                            : " other files not DICOM");
    }
    out << "\n";
    for (const auto& [path, why] : refused_) out << "refused: " << path << ": " << why << "\n";
    return !refused_.empty();
  }

 private:
  void Count(uint64_t* n) {
    std::lock_guard<std::mutex> lock(mu_);
    ++*n;
  }
  std::mutex mu_;
  uint64_t stored_ = 0, already_ = 0, not_dicom_ = 0;
  std::multimap<std::string, std::string> refused_;  // by path
};

struct Run {
  const CommandContext& ctx;
  const ImportArgs& args;
  ImportPlan plan;
  Tally tally;
  ProgressBar* progress;
};

// Sends one file: `head` is its first piece, `read` gives the rest. When scanning, a file that is
// not DICOM Part 10 is counted, not sent.
void SendOne(Run& run, const ImportItem& item, std::string head,
             const std::function<absl::Status(size_t, std::string*)>& read) {
  if ((!run.plan.from_dicomdir || item.unlisted) && !LooksLikeDicom(head)) {
    run.tally.NotDicom();
    run.progress->Add(1, item.size);
    return;
  }
  uint64_t sent = 0;
  bool first = true;
  absl::StatusOr<v1::PutInstanceResponse> result = PutStream(
      *run.ctx.stub,
      [&](size_t max_bytes, std::string* piece) -> absl::Status {
        if (first) {
          first = false;
          *piece = std::move(head);
        } else if (absl::Status s = read(max_bytes, piece); !s.ok()) {
          return s;
        }
        sent += piece->size();
        run.progress->Add(0, piece->size());
        return absl::OkStatus();
      },
      run.ctx.timeout);
  run.progress->Add(1, item.size > sent ? item.size - sent : 0);
  if (!result.ok()) {
    run.tally.Refused(item.path, result.status());
  } else if (result->already_stored()) {
    run.tally.Already();
  } else {
    run.tally.Stored();
  }
}

// Instances of these studies the index holds: SOP Instance UID -> size. A study the index does
// not have contributes nothing; a lookup that fails only means its files are sent.
std::map<std::string, uint64_t> StoredInstances(const CommandContext& ctx,
                                                const std::set<std::string>& studies) {
  std::map<std::string, uint64_t> stored;
  for (const std::string& study : studies) {
    grpc::ClientContext context;
    SetDeadline(&context, ctx.timeout);
    v1::GetStudyRequest request;
    request.set_study_uid(study);
    v1::GetStudyResponse response;
    if (!ctx.stub->GetStudy(&context, request, &response).ok()) continue;
    for (const v1::SeriesInfo& series : response.series()) {
      for (const v1::InstanceInfo& instance : series.instances()) {
        stored.emplace(instance.tags().sop_instance_uid(), instance.size());
      }
    }
  }
  return stored;
}

// Drops from the plan what the index already holds, counting it as already stored.
void SkipStored(Run& run) {
  uint64_t bytes = 0;
  for (const ImportItem& item : run.plan.items) bytes += item.size;
  run.progress->SetTotal(run.plan.items.size(), bytes);
  std::set<std::string> studies;
  for (const ImportItem& item : run.plan.items) {
    if (!item.study_uid.empty() && !item.sop_instance_uid.empty()) studies.insert(item.study_uid);
  }
  if (studies.empty()) return;
  const std::map<std::string, uint64_t> stored = StoredInstances(run.ctx, studies);
  std::vector<ImportItem> remaining;
  for (ImportItem& item : run.plan.items) {
    auto it = stored.find(item.sop_instance_uid);
    if (!item.sop_instance_uid.empty() && it != stored.end() && it->second == item.size) {
      run.tally.Already();
      run.progress->Add(1, item.size);
    } else {
      remaining.push_back(std::move(item));
    }
  }
  run.plan.items = std::move(remaining);
}

ImportPlan Plan(const std::vector<MediumFile>& files, const std::string& dicomdir_file,
                std::ostream& err) {
  std::optional<size_t> dicomdir = FindDicomDir(files);
  if (dicomdir) {
    absl::StatusOr<std::vector<DicomDirRef>> refs = ReadDicomDir(dicomdir_file);
    if (refs.ok()) return PlanFromDicomDir(files, *dicomdir, *refs);
    err << "medvault: import: " << FormatStatus(refs.status()) << "; scanning every file\n";
  }
  return PlanScan(files);
}

// ---- a folder or a mounted disc ----

absl::StatusOr<std::vector<MediumFile>> ListFolder(const std::string& root) {
  std::vector<MediumFile> files;
  std::error_code ec;
  namespace fs = std::filesystem;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    MediumFile file;
    file.path = fs::relative(it->path(), root, ec).generic_string();
    file.size = it->file_size(ec);
    if (ec) break;
    files.push_back(std::move(file));
  }
  if (ec) return ErrnoToStatus(ec.value(), absl::StrCat("reading the folder ", root));
  std::sort(files.begin(), files.end(),
            [](const MediumFile& a, const MediumFile& b) { return a.path < b.path; });
  return files;
}

absl::Status ImportFolder(Run& run, const std::string& root) {
  absl::StatusOr<std::vector<MediumFile>> files = ListFolder(root);
  if (!files.ok()) return files.status();
  std::optional<size_t> dicomdir = FindDicomDir(*files);
  run.plan = Plan(*files, dicomdir ? root + "/" + (*files)[*dicomdir].path : "", *run.ctx.err);
  SkipStored(run);
  ParallelFor(run.plan.items.size(), run.args.jobs, [&](size_t i) {
    const ImportItem& item = run.plan.items[i];
    absl::StatusOr<std::unique_ptr<FileReader>> reader = FileReader::Open(root + "/" + item.path);
    std::string head;
    absl::Status read = reader.ok() ? (*reader)->Read(kPutPieceBytes, &head) : reader.status();
    if (!read.ok()) {
      run.tally.Refused(item.path, read);
      run.progress->Add(1, item.size);
      return;
    }
    SendOne(run, item, std::move(head), [&](size_t max_bytes, std::string* piece) {
      return (*reader)->Read(max_bytes, piece);
    });
  });
  return absl::OkStatus();
}

// ---- a ZIP file or an ISO image ----

// An in-memory file (memfd) holding a copy of an archive's DICOMDIR, for DcmDicomDir, which
// reads only files by name: the directory names patients, so it never touches a disk.
class DicomDirCopy {
 public:
  ~DicomDirCopy() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Write(const std::string& bytes) {
    fd_ = ::memfd_create("medvault-dicomdir", MFD_CLOEXEC);
    if (fd_ < 0) return ErrnoToStatus(errno, "memfd_create for the DICOMDIR");
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoToStatus(errno, "copying the DICOMDIR into memory");
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  // The name it can be opened by, while this object lives; empty before Write.
  std::string path() const { return fd_ < 0 ? "" : absl::StrCat("/proc/self/fd/", fd_); }

 private:
  int fd_ = -1;
};

// First pass: the entries, and the DICOMDIR's bytes (copied into *dicomdir when there is one).
absl::Status ListArchive(const std::string& path, std::vector<MediumFile>* files,
                         DicomDirCopy* dicomdir_copy) {
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::map<std::string, std::string> dicomdirs;  // path -> bytes, every DICOMDIR-named entry
  ArchiveEntry entry;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&entry);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (!entry.regular) continue;
    files->push_back(MediumFile{entry.path, entry.size});
    if (FindDicomDir({files->back()})) {
      absl::StatusOr<std::string> bytes = (*reader)->ReadAll(kMaxDicomDirBytes);
      if (!bytes.ok()) return bytes.status();
      dicomdirs[entry.path] = *std::move(bytes);
    }
  }
  std::optional<size_t> dicomdir = FindDicomDir(*files);
  if (!dicomdir) return absl::OkStatus();
  return dicomdir_copy->Write(dicomdirs[(*files)[*dicomdir].path]);
}

// Work handed from the archive's reading thread to the senders.
class Queue {
 public:
  explicit Queue(uint64_t budget) : budget_(budget) {}
  // Waits while the queued bytes would exceed the budget (unless the queue is empty).
  void Push(ImportItem item, std::string data) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return items_.empty() || bytes_ + data.size() <= budget_; });
    bytes_ += data.size();
    items_.emplace_back(std::move(item), std::move(data));
    ready_.notify_one();
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_all();
  }
  // False once closed and empty.
  bool Pop(ImportItem* item, std::string* data) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *item = std::move(items_.front().first);
    *data = std::move(items_.front().second);
    items_.pop_front();
    bytes_ -= data->size();
    space_.notify_all();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::pair<ImportItem, std::string>> items_;
  uint64_t bytes_ = 0;
  const uint64_t budget_;
  bool closed_ = false;
};

absl::Status ImportArchive(Run& run, const std::string& path) {
  std::vector<MediumFile> files;
  DicomDirCopy dicomdir_copy;
  absl::Status listed = ListArchive(path, &files, &dicomdir_copy);
  if (listed.ok() && !dicomdir_copy.path().empty()) {
    run.plan = Plan(files, dicomdir_copy.path(), *run.ctx.err);
  } else if (listed.ok()) {
    run.plan = PlanScan(files);
  }
  if (!listed.ok()) return listed;
  SkipStored(run);
  std::map<std::string, const ImportItem*> wanted;  // MediumKey -> item, erased once sent
  for (const ImportItem& item : run.plan.items) wanted.emplace(MediumKey(item.path), &item);

  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(path);
  if (!reader.ok()) return reader.status();
  Queue queue(static_cast<uint64_t>(run.args.jobs) * kBufferedEntryBytes);
  std::vector<std::thread> senders;
  for (int i = 0; i < run.args.jobs; ++i) {
    senders.emplace_back([&] {
      ImportItem item;
      std::string data;
      while (queue.Pop(&item, &data)) {
        SendOne(run, item, std::move(data), [](size_t, std::string* piece) {
          piece->clear();
          return absl::OkStatus();
        });
      }
    });
  }
  absl::Status status;
  ArchiveEntry entry;
  while (!wanted.empty()) {
    absl::StatusOr<bool> more = (*reader)->Next(&entry);
    if (!more.ok()) {
      status = more.status();
      break;
    }
    if (!*more) break;
    auto it = entry.regular ? wanted.find(MediumKey(entry.path)) : wanted.end();
    if (it == wanted.end()) continue;
    const ImportItem item = *it->second;
    wanted.erase(it);
    if (entry.size > kBufferedEntryBytes) {
      std::string head;
      if (absl::Status s = (*reader)->Read(kPutPieceBytes, &head); !s.ok()) {
        run.tally.Refused(item.path, s);
        run.progress->Add(1, item.size);
        continue;
      }
      SendOne(run, item, std::move(head), [&](size_t max_bytes, std::string* piece) {
        return (*reader)->Read(max_bytes, piece);
      });
      continue;
    }
    absl::StatusOr<std::string> data = (*reader)->ReadAll(kBufferedEntryBytes);
    if (!data.ok()) {
      run.tally.Refused(item.path, data.status());
      run.progress->Add(1, item.size);
      continue;
    }
    queue.Push(item, *std::move(data));
  }
  queue.Close();
  for (std::thread& t : senders) t.join();
  for (const auto& [key, item] : wanted) {
    run.tally.Refused(item->path, status.ok() ? absl::DataLossError("not found in the second "
                                                                    "pass over the archive")
                                              : status);
  }
  return status;
}

}  // namespace

int RunImport(const CommandContext& ctx, const ImportArgs& args) {
  struct stat st;
  if (::stat(args.path.c_str(), &st) != 0) {
    *ctx.err << FormatError("import", ErrnoToStatus(errno, absl::StrCat("stat ", args.path)))
             << "\n";
    return kExitFailure;
  }
  const bool show = !args.quiet && ::isatty(STDERR_FILENO) == 1;
  ProgressBar progress(ctx.err, RealClock(), show, StderrTerminalWidth());
  Run run{ctx, args, ImportPlan{}, Tally{}, &progress};
  // The totals are known once the medium is listed; the bar starts then.
  absl::Status status =
      S_ISDIR(st.st_mode) ? ImportFolder(run, args.path) : ImportArchive(run, args.path);
  progress.Finish();
  for (const std::string& missing : run.plan.missing) {
    run.tally.Refused(missing, absl::NotFoundError("referenced by the DICOMDIR but not on the "
                                                   "medium"));
  }
  const bool refused = run.tally.Print(*ctx.out, run.plan.ignored, run.plan.from_dicomdir);
  if (!status.ok()) {
    *ctx.err << FormatError("import", status) << "\n";
    return kExitFailure;
  }
  return refused ? kExitFailure : kExitOk;
}

}  // namespace medvault::cli
