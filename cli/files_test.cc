#include "cli/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace medvault::cli {
namespace {

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<std::string> Paths(const std::vector<FileEntry>& entries) {
  std::vector<std::string> out;
  for (const FileEntry& e : entries) out.push_back(e.path);
  return out;
}

TEST(CollectFilesTest, RecursiveSortedRegularFilesOnly) {
  testing::TempDir tmp;
  const std::string root = tmp.path() + "/cd";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/b").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/a/deep").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/empty").c_str(), 0755), 0);
  WriteFile(root + "/z.dcm", "z");
  WriteFile(root + "/b/2.dcm", "2");
  WriteFile(root + "/b/1.dcm", "1");
  WriteFile(root + "/a/deep/x.dcm", "x");
  WriteFile(root + "/a/y.dcm", "y");
  ASSERT_EQ(::symlink((root + "/a").c_str(), (root + "/b/loop").c_str()), 0);  // not followed
  ASSERT_EQ(::symlink((root + "/z.dcm").c_str(), (root + "/b/3.dcm").c_str()), 0);
  ASSERT_EQ(::mkfifo((root + "/b/fifo").c_str(), 0600), 0);  // skipped

  WriteFile(tmp.path() + "/single.dcm", "s");
  std::vector<FileEntry> files = CollectFiles({tmp.path() + "/single.dcm", root});
  for (const FileEntry& e : files) EXPECT_TRUE(e.error.ok()) << e.path << ": " << e.error;
  EXPECT_EQ(Paths(files), (std::vector<std::string>{
                              tmp.path() + "/single.dcm",
                              root + "/a/deep/x.dcm",
                              root + "/a/y.dcm",
                              root + "/b/1.dcm",
                              root + "/b/2.dcm",
                              root + "/b/3.dcm",
                              root + "/z.dcm",
                          }));
}

TEST(CollectFilesTest, MissingPathIsAFailedEntry) {
  testing::TempDir tmp;
  WriteFile(tmp.path() + "/ok.dcm", "ok");
  std::vector<FileEntry> files = CollectFiles({tmp.path() + "/missing", tmp.path() + "/ok.dcm"});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].error.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(files[1].error.ok());
}

TEST(CollectFilesTest, UnreadableFolderIsAFailedEntry) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every folder";
  testing::TempDir tmp;
  const std::string locked = tmp.path() + "/locked";
  ASSERT_EQ(::mkdir(locked.c_str(), 0755), 0);
  WriteFile(locked + "/a.dcm", "a");
  ASSERT_EQ(::chmod(locked.c_str(), 0), 0);
  std::vector<FileEntry> files = CollectFiles({tmp.path()});
  ::chmod(locked.c_str(), 0755);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].error.code(), absl::StatusCode::kPermissionDenied);
}

TEST(FileReaderTest, ReadsInPieces) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/f";
  WriteFile(path, "0123456789");
  absl::StatusOr<std::unique_ptr<FileReader>> reader = FileReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->size(), 10u);
  std::string piece;
  std::vector<std::string> pieces;
  for (;;) {
    ASSERT_TRUE((*reader)->Read(4, &piece).ok());
    if (piece.empty()) break;
    pieces.push_back(piece);
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"0123", "4567", "89"}));
}

TEST(FileReaderTest, Errors) {
  testing::TempDir tmp;
  // A FIFO is neither opened for a blocking read nor accepted.
  const std::string fifo = tmp.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(FileReader::Open(fifo).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<FileEntry> files = CollectFiles({fifo});
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FileReader::Open(tmp.path() + "/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FileReader::Open(tmp.path()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medvault::cli
