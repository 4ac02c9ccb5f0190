// Crash safety of the pack chunk store, in the manner of LevelDB's fault_injection_test: a
// workload of writes, rewrites, deletes and compactions runs until the filesystem "loses power"
// after a random number of operations; every file then loses its unsynced bytes from a random
// point on (cut, or zeroed as unwritten blocks read), files whose directory entry was never synced
// vanish, and a new store opens what is left. No acknowledged write or delete may be lost, and no
// read may return bytes that were never written.
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/core/pack_chunk_store.h"
#include "common/crypto.h"
#include "common/env.h"
#include "common/status_macros.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

using ::medvault::testing::TempDir;

std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Passes everything to the POSIX filesystem but remembers, per file, how much was synced and
// whether its directory entry was; after Crash() every operation fails, as in a dead process.
class PowerLossFilesystem : public Filesystem {
 public:
  explicit PowerLossFilesystem(int64_t ops_before_crash) : ops_left_(ops_before_crash) {}

  bool crashed() {
    absl::MutexLock lock(&mu_);
    return ops_left_ <= 0;
  }

  // What the disk holds after the power loss.
  void ApplyPowerLoss(std::mt19937* rng) {
    absl::MutexLock lock(&mu_);
    for (const auto& [path, f] : files_) {
      if (!f.entry_synced) {
        (void)base_->DeleteFile(path);
        continue;
      }
      if (f.size <= f.synced) continue;
      const uint64_t cut = f.synced + (*rng)() % (f.size - f.synced + 1);
      std::string bytes = *base_->ReadFile(path);
      bytes.resize(cut);
      if ((*rng)() % 2 == 0) bytes.resize(f.size, '\0');  // blocks allocated, never written
      auto out = base_->NewWritableFile(path);
      ASSERT_TRUE(out.ok());
      ASSERT_TRUE((*out)->Append(bytes).ok());
      ASSERT_TRUE((*out)->Close().ok());
    }
    files_.clear();
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    if (!Tick()) return absl::UnavailableError("power lost");
    auto f = base_->NewWritableFile(path);
    if (!f.ok()) return f.status();
    absl::MutexLock lock(&mu_);
    files_[path] = Tracked{};
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    return base_->ReadFile(path);
  }
  absl::StatusOr<std::string> ReadFileRange(const std::string& path, uint64_t offset,
                                            size_t length) override {
    return base_->ReadFileRange(path, offset, length);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (!Tick()) return absl::UnavailableError("power lost");
    RETURN_IF_ERROR(base_->Rename(from, to));
    absl::MutexLock lock(&mu_);
    auto it = files_.find(from);
    Tracked t = it == files_.end() ? Tracked{0, 0, true} : it->second;
    if (it != files_.end()) files_.erase(it);
    t.entry_synced = false;
    files_[to] = t;
    return absl::OkStatus();
  }
  absl::Status SyncDir(const std::string& path) override {
    if (!Tick()) return absl::UnavailableError("power lost");
    absl::MutexLock lock(&mu_);
    for (auto& [file, t] : files_) {
      if (DirOf(file) == path) t.entry_synced = true;
    }
    return absl::OkStatus();
  }
  absl::Status DeleteFile(const std::string& path) override {
    if (!Tick()) return absl::UnavailableError("power lost");
    RETURN_IF_ERROR(base_->DeleteFile(path));
    absl::MutexLock lock(&mu_);
    files_.erase(path);
    return absl::OkStatus();
  }
  absl::Status CreateDirs(const std::string& path) override {
    if (!Tick()) return absl::UnavailableError("power lost");
    return base_->CreateDirs(path);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  absl::StatusOr<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  absl::StatusOr<DiskSpace> GetDiskSpace(const std::string& path) override {
    return base_->GetDiskSpace(path);
  }

 private:
  struct Tracked {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool entry_synced = false;
  };
  class File : public WritableFile {
   public:
    File(PowerLossFilesystem* fs, std::string path, std::unique_ptr<WritableFile> base)
        : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
    absl::Status Append(absl::string_view data) override {
      if (!fs_->Tick()) return absl::UnavailableError("power lost");
      RETURN_IF_ERROR(base_->Append(data));
      absl::MutexLock lock(&fs_->mu_);
      fs_->files_[path_].size += data.size();
      return absl::OkStatus();
    }
    // No fdatasync: the power loss is simulated, so only the bookkeeping matters.
    absl::Status Sync() override {
      if (!fs_->Tick()) return absl::UnavailableError("power lost");
      absl::MutexLock lock(&fs_->mu_);
      auto it = fs_->files_.find(path_);
      if (it != fs_->files_.end()) it->second.synced = it->second.size;
      return absl::OkStatus();
    }
    absl::Status Close() override { return base_->Close(); }

   private:
    PowerLossFilesystem* const fs_;
    const std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  // Counts one mutating operation; false once the power is lost.
  bool Tick() {
    absl::MutexLock lock(&mu_);
    return --ops_left_ >= 0;
  }

  Filesystem* const base_ = DefaultFilesystem();
  absl::Mutex mu_;
  int64_t ops_left_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Tracked> files_ ABSL_GUARDED_BY(mu_);
};

std::string Id(int n) {
  std::string id(kChunkIdBytes, '\x33');
  id[0] = static_cast<char>(n);
  return id;
}

// What may be stored under an id: exactly `value` when certain, else any of `candidates`
// (nullopt: absent).
struct Expect {
  bool certain = true;
  std::optional<std::string> value;
  std::set<std::optional<std::string>> candidates;
  void Uncertain(std::optional<std::string> v) {
    if (certain) candidates = {value};
    certain = false;
    candidates.insert(std::move(v));
  }
};

TEST(PackCrashTest, PowerLossAtRandomPointsLosesNothingAcknowledged) {
  constexpr int kSeeds = 300;
  constexpr int kIds = 24;
  int crashed_in_compaction = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937 rng(seed);
    TempDir dir;
    FakeClock clock;
    PackChunkStoreOptions options;
    options.extent_bytes = 3000;
    options.compact_dead_fraction = 0.3;
    PowerLossFilesystem fs(1 + rng() % 300);
    std::map<std::string, Expect> expect;
    {
      PackChunkStore store(&fs, &clock, dir.path(), options);
      if (!store.Open().ok()) continue;  // the power went during Open
      while (!fs.crashed()) {
        const std::string id = Id(static_cast<int>(rng() % kIds));
        Expect& e = expect[id];
        const uint32_t op = rng() % 10;
        if (op < 5) {
          std::string data = *RandomBytes(rng() % 1200);
          absl::Status s = store.Write(id, data, Crc32c(data));
          if (s.ok()) {
            e = Expect{true, data, {}};
          } else if (!absl::IsAlreadyExists(s)) {
            e.Uncertain(data);
          }
        } else if (op < 8) {
          absl::StatusOr<uint32_t> n = store.Delete({id});
          if (n.ok()) {
            e = Expect{true, std::nullopt, {}};
          } else {
            e.Uncertain(std::nullopt);
          }
        } else {
          absl::StatusOr<bool> compacted = store.Compact();
          if (!compacted.ok() && fs.crashed()) ++crashed_in_compaction;
        }
      }
    }
    fs.ApplyPowerLoss(&rng);
    PackChunkStore reopened(DefaultFilesystem(), &clock, dir.path(), options);
    ASSERT_TRUE(reopened.Open().ok());
    for (const auto& [id, e] : expect) {
      absl::StatusOr<ChunkData> read = reopened.Read(id);
      std::optional<std::string> got;
      if (read.ok()) {
        got = read->data;
      } else {
        // Torn or absent; a torn chunk must be reported, never served.
        ASSERT_TRUE(absl::IsNotFound(read.status()) || absl::IsDataLoss(read.status()))
            << read.status();
        ASSERT_FALSE(e.certain && absl::IsDataLoss(read.status())) << read.status();
      }
      if (e.certain) {
        ASSERT_TRUE(got == e.value) << ToHex(id) << (got ? " has other bytes" : " is lost")
                                    << (e.value ? "" : " (deleted)");
      } else if (read.ok() || absl::IsNotFound(read.status())) {
        ASSERT_TRUE(e.candidates.count(got)) << ToHex(id);
      }
    }
    // The recovered store takes new writes and keeps them across another restart.
    const std::string fresh = *RandomBytes(500);
    ASSERT_TRUE(reopened.Write(Id(200), fresh, Crc32c(fresh)).ok());
    PackChunkStore again(DefaultFilesystem(), &clock, dir.path(), options);
    ASSERT_TRUE(again.Open().ok());
    ASSERT_EQ(again.Read(Id(200))->data, fresh);
  }
  // The crash points do reach into compactions.
  EXPECT_GT(crashed_in_compaction, 0);
}

}  // namespace
}  // namespace medvault::chunkserver
