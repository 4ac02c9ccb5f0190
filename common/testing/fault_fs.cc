#include "common/testing/fault_fs.h"

#include "absl/strings/str_cat.h"

namespace medvault::testing {
namespace {

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

class FaultFile : public WritableFile {
 public:
  FaultFile(FaultInjectingFilesystem* fs, std::string path, std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
  absl::Status Append(absl::string_view data) override {
    absl::Status s = fs_->ConsumeSpace(data.size());
    if (!s.ok()) return s;
    return base_->Append(data);
  }
  absl::Status Sync() override {
    absl::Status s = fs_->OnSync(path_);
    if (!s.ok()) return s;
    return base_->Sync();
  }
  absl::Status Close() override { return base_->Close(); }

 private:
  FaultInjectingFilesystem* fs_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectingFilesystem::NewWritableFile(
    const std::string& path) {
  auto f = base_->NewWritableFile(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_files_.insert(path);
  }
  return std::unique_ptr<WritableFile>(new FaultFile(this, path, std::move(*f)));
}

absl::Status FaultInjectingFilesystem::ConsumeSpace(size_t n) {
  int64_t left = space_left_.load();
  if (left < static_cast<int64_t>(n))
    return absl::ResourceExhaustedError("injected: no space left on device");
  if (left != INT64_MAX) space_left_ -= static_cast<int64_t>(n);
  return absl::OkStatus();
}

absl::Status FaultInjectingFilesystem::OnSync(const std::string& path) {
  if (fail_syncs_.load() > 0) {
    --fail_syncs_;
    return absl::InternalError(absl::StrCat("injected: fdatasync ", path, " failed"));
  }
  ++file_syncs_;
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_files_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultInjectingFilesystem::Rename(const std::string& from, const std::string& to) {
  absl::Status s = base_->Rename(from, to);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (unsynced_files_.erase(from) > 0) unsynced_files_.insert(to);
  unsynced_renames_.insert(to);
  return absl::OkStatus();
}

absl::Status FaultInjectingFilesystem::SyncDir(const std::string& path) {
  ++dir_syncs_;
  absl::Status s = base_->SyncDir(path);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = unsynced_renames_.begin(); it != unsynced_renames_.end();) {
    if (DirOf(*it) == path) {
      it = unsynced_renames_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DiskSpace> FaultInjectingFilesystem::GetDiskSpace(const std::string& path) {
  auto space = base_->GetDiskSpace(path);
  if (!space.ok()) return space;
  int64_t left = space_left_.load();
  if (left != INT64_MAX && static_cast<uint64_t>(left) < space->free_bytes) {
    space->free_bytes = static_cast<uint64_t>(left);
  }
  return space;
}

void FaultInjectingFilesystem::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& p : unsynced_files_) (void)base_->DeleteFile(p);
  for (const auto& p : unsynced_renames_) (void)base_->DeleteFile(p);
  unsynced_files_.clear();
  unsynced_renames_.clear();
}

}  // namespace medvault::testing
