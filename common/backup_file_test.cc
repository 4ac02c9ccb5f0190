// The backup file: what is sealed opens with the same key, and nothing else does.
#include "common/backup_file.h"

#include <gtest/gtest.h>

namespace medvault {
namespace {

v1::BackupContents Contents() {
  v1::BackupContents c;
  c.set_created_unix_micros(42);
  v1::BackupGroup* g = c.add_groups();
  g->set_group(v1::RAFT_GROUP_KEYSERVICE);
  g->mutable_snapshot()->mutable_meta()->set_index(7);
  g->mutable_snapshot()->set_data("wrapped keys");
  return c;
}

TEST(BackupFileTest, OpensWithItsKeyOnly) {
  const SecretBytes key(std::string(kAesKeyBytes, 'k'));
  absl::StatusOr<std::string> sealed = SealBackup(Contents(), key);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find("wrapped keys"), std::string::npos);
  absl::StatusOr<v1::BackupContents> opened = OpenBackup(*sealed, key);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->created_unix_micros(), 42);
  absl::StatusOr<v1::RaftSnapshot> ks = BackupSnapshotOf(*opened, v1::RAFT_GROUP_KEYSERVICE);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->meta().index(), 7u);
  EXPECT_EQ(BackupSnapshotOf(*opened, v1::RAFT_GROUP_METASERVER).status().code(),
            absl::StatusCode::kNotFound);

  const SecretBytes other(std::string(kAesKeyBytes, 'o'));
  EXPECT_EQ(OpenBackup(*sealed, other).status().code(), absl::StatusCode::kDataLoss);
  for (size_t at : {size_t{9}, size_t{14}, sealed->size() / 2, sealed->size() - 1}) {
    std::string changed = *sealed;
    changed[at] ^= 0x20;
    EXPECT_FALSE(OpenBackup(changed, key).ok()) << "byte " << at;
  }
  EXPECT_EQ(OpenBackup(sealed->substr(0, sealed->size() - 1), key).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenBackup("PK\x03\x04 a zip", key).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault
