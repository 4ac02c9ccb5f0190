// A Filesystem wrapper for tests that records and injects faults, in the spirit of LevelDB's
// fault_injection_test: count syncs, fail the next fsync, run out of space after N bytes, and
// "crash" by deleting every file whose data was never synced.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "common/env.h"

namespace medvault::testing {

class FaultInjectingFilesystem : public Filesystem {
 public:
  explicit FaultInjectingFilesystem(Filesystem* base) : base_(base) {}

  // Every later Append fails with RESOURCE_EXHAUSTED once this many more bytes were written.
  void SetSpaceLeft(int64_t bytes) { space_left_ = bytes; }
  // The next `n` WritableFile::Sync calls fail with INTERNAL (like an EIO from fdatasync).
  void FailNextSyncs(int n) { fail_syncs_ = n; }
  // Simulates power loss: deletes files created since the last Sync of their data and forgets
  // renames whose directory was never synced (their destination is deleted too).
  void DropUnsyncedData();

  int file_syncs() const { return file_syncs_; }
  int dir_syncs() const { return dir_syncs_; }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    return base_->ReadFile(path);
  }
  absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                            size_t length) override {
    return base_->ReadFileRange(path, offset, length);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  absl::Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  absl::StatusOr<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override;

  // Used by the wrapped files.
  absl::Status ConsumeSpace(size_t n);
  absl::Status OnSync(const std::string& path);

 private:
  Filesystem* base_;
  std::atomic<int64_t> space_left_{INT64_MAX};
  std::atomic<int> fail_syncs_{0};
  std::atomic<int> file_syncs_{0};
  std::atomic<int> dir_syncs_{0};
  std::mutex mu_;
  std::set<std::string> unsynced_files_;    // created, data not yet synced
  std::set<std::string> unsynced_renames_;  // rename destinations whose dir is not yet synced
};

}  // namespace medvault::testing
