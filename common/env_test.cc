#include "common/env.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/testing/fault_fs.h"
#include "common/testing/temp_dir.h"

namespace medvault {
namespace {

// Pages of `path` in the page cache, and pages it has.
std::pair<size_t, size_t> ResidentPages(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {0, 0};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t pages = (static_cast<size_t>(size) + page - 1) / page;
  void* map = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return {0, pages};
  std::vector<unsigned char> in_core(pages);
  size_t resident = 0;
  if (::mincore(map, static_cast<size_t>(size), in_core.data()) == 0) {
    for (unsigned char c : in_core) resident += c & 1;
  }
  ::munmap(map, static_cast<size_t>(size));
  return {resident, pages};
}

// Whether `dir` is on a filesystem whose O_DIRECT bypasses the page cache (ext4, XFS, btrfs): tmpfs
// since Linux 6.6 accepts O_DIRECT but is the page cache, and some filesystems ignore the flag.
bool DirectIoBypassesThePageCacheIn(const std::string& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  const auto type = static_cast<unsigned long>(fs.f_type);
  return type == 0xEF53UL || type == 0x58465342UL || type == 0x9123683EUL;
}

bool DirectIoWorksIn(const std::string& dir) {
  int fd = ::open((dir + "/probe").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink((dir + "/probe").c_str());
  return true;
}

// Whole files of any length, written and synced in one call: the bytes read back exactly, the
// padding direct I/O needs does not stay, and the data did not go through the page cache (at
// most the last page, which the kernel reads to trim the padding).
TEST(PosixFilesystemTest, WriteFileSyncedWritesExactBytesAroundThePageCache) {
  testing::TempDir dir;
  std::unique_ptr<Filesystem> fs = NewPosixFilesystem(/*direct_writes=*/true);
  const std::string head(64, 'h');
  for (size_t body_size :
       {size_t{0}, size_t{4096 - 64}, size_t{300 * 1024 + 17}, size_t{1 << 20}}) {
    std::string body(body_size, '\0');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 + 7);
    const std::string path = dir.path() + "/f" + std::to_string(body_size);
    ASSERT_TRUE(fs->WriteFileSynced(path, head, body).ok());
    EXPECT_EQ(fs->Stat(path)->size, head.size() + body.size());
    if (DirectIoWorksIn(dir.path()) && DirectIoBypassesThePageCacheIn(dir.path())) {
      auto [resident, pages] = ResidentPages(path);
      EXPECT_LE(resident, 1u) << body_size << " bytes: " << resident << " of " << pages
                              << " pages cached";
    }
    EXPECT_EQ(fs->ReadFile(path).value(), head + body);
  }
  // Rewriting truncates.
  ASSERT_TRUE(fs->WriteFileSynced(dir.path() + "/f0", "x", "").ok());
  EXPECT_EQ(fs->ReadFile(dir.path() + "/f0").value(), "x");
}

// Where direct I/O is refused (tmpfs), the write goes through the page cache instead.
TEST(PosixFilesystemTest, WriteFileSyncedFallsBackWhereDirectIoIsRefused) {
  if (::access("/dev/shm", W_OK) != 0 || DirectIoWorksIn("/dev/shm"))
    GTEST_SKIP() << "no tmpfs to refuse direct I/O";
  std::unique_ptr<Filesystem> fs = NewPosixFilesystem(/*direct_writes=*/true);
  const std::string path = "/dev/shm/medvault-env-test-" + std::to_string(::getpid());
  ASSERT_TRUE(fs->WriteFileSynced(path, "head", std::string(10000, 'b')).ok());
  EXPECT_EQ(fs->ReadFile(path).value(), "head" + std::string(10000, 'b'));
  ASSERT_TRUE(fs->DeleteFile(path).ok());
}

// The unsynced-data fault injection still sees every chunk write (the default goes through
// NewWritableFile).
TEST(FaultInjectingFilesystemTest, WriteFileSyncedIsSynced) {
  testing::TempDir dir;
  testing::FaultInjectingFilesystem fs(DefaultFilesystem());
  ASSERT_TRUE(fs.WriteFileSynced(dir.path() + "/a", "x", "y").ok());
  fs.DropUnsyncedData();
  EXPECT_EQ(fs.ReadFile(dir.path() + "/a").value(), "xy");
}

TEST(PosixFilesystemTest, WriteSyncRenameRead) {
  testing::TempDir dir;
  Filesystem* fs = DefaultFilesystem();
  std::string tmp = dir.path() + "/a.tmp", dst = dir.path() + "/a";
  auto f = fs->NewWritableFile(tmp);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("payload").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Close().ok());
  ASSERT_TRUE(fs->Rename(tmp, dst).ok());
  ASSERT_TRUE(fs->SyncDir(dir.path()).ok());
  EXPECT_EQ(fs->ReadFile(dst).value(), "payload");
  EXPECT_EQ(fs->ReadFile(tmp).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs->Stat(dst)->size, 7u);
  EXPECT_GT(fs->GetDiskSpace(dir.path())->capacity_bytes, 0u);
}

TEST(FaultInjectingFilesystemTest, DropsUnsyncedFiles) {
  testing::TempDir dir;
  testing::FaultInjectingFilesystem fs(DefaultFilesystem());
  auto synced = fs.NewWritableFile(dir.path() + "/synced");
  ASSERT_TRUE((*synced)->Append("x").ok());
  ASSERT_TRUE((*synced)->Sync().ok());
  ASSERT_TRUE((*synced)->Close().ok());
  auto unsynced = fs.NewWritableFile(dir.path() + "/unsynced");
  ASSERT_TRUE((*unsynced)->Append("y").ok());
  ASSERT_TRUE((*unsynced)->Close().ok());
  fs.DropUnsyncedData();
  EXPECT_TRUE(fs.Exists(dir.path() + "/synced"));
  EXPECT_FALSE(fs.Exists(dir.path() + "/unsynced"));
}

TEST(FaultInjectingFilesystemTest, SpaceRunsOut) {
  testing::TempDir dir;
  testing::FaultInjectingFilesystem fs(DefaultFilesystem());
  fs.SetSpaceLeft(4);
  auto f = fs.NewWritableFile(dir.path() + "/f");
  EXPECT_TRUE((*f)->Append("abcd").ok());
  EXPECT_EQ((*f)->Append("e").code(), absl::StatusCode::kResourceExhausted);
}

// A real ENOSPC from the kernel (/dev/full refuses every write with it), through the real
// filesystem: RESOURCE_EXHAUSTED, the code the chunk store and chunk servers answer a full disk
// with.
TEST(PosixFilesystemTest, RealEnospcIsResourceExhausted) {
  Filesystem* fs = DefaultFilesystem();
  if (!fs->Exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto f = fs->NewWritableFile("/dev/full");
  ASSERT_TRUE(f.ok()) << f.status();
  absl::Status s = (*f)->Append(std::string(1 << 16, 'x'));
  if (s.ok()) s = (*f)->Sync();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  (void)(*f)->Close();
}

}  // namespace
}  // namespace medvault
