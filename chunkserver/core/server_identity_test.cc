#include "chunkserver/core/server_identity.h"

#include <gtest/gtest.h>

#include "common/env.h"
#include "common/testing/fault_fs.h"
#include "common/testing/temp_dir.h"

namespace medvault::chunkserver {
namespace {

using ::medvault::testing::FaultInjectingFilesystem;
using ::medvault::testing::TempDir;

TEST(ServerIdentityTest, CreatedOnceDurablyAndStable) {
  TempDir dir;
  FaultInjectingFilesystem fs(DefaultFilesystem());
  absl::StatusOr<std::string> id = LoadOrCreateServerId(&fs, dir.path());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->size(), 2 * kServerIdBytes);
  EXPECT_GE(fs.file_syncs(), 1);
  EXPECT_GE(fs.dir_syncs(), 1);
  fs.DropUnsyncedData();
  absl::StatusOr<std::string> again = LoadOrCreateServerId(&fs, dir.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);

  TempDir other;
  absl::StatusOr<std::string> different = LoadOrCreateServerId(&fs, other.path());
  ASSERT_TRUE(different.ok());
  EXPECT_NE(*different, *id);
}

TEST(ServerIdentityTest, CorruptIdFileIsDataLoss) {
  TempDir dir;
  auto file = DefaultFilesystem()->NewWritableFile(dir.path() + "/server_id");
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("not an id").ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE(absl::IsDataLoss(LoadOrCreateServerId(DefaultFilesystem(), dir.path()).status()));
}

}  // namespace
}  // namespace medvault::chunkserver
