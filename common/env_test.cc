#include "common/env.h"

#include <gtest/gtest.h>

#include "common/testing/fault_fs.h"
#include "common/testing/temp_dir.h"

namespace medvault {
namespace {

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
// filesystem: RESOURCE_EXHAUSTED, the code the chunk store and chunk servers answer a full disk with.
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
