#include "cli/files.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/fifo_reader.h"
#include "common/testing/file_scan.h"
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

// ---- get -o: never replace what is not a regular file (issue 14, item 4) ----

using ::medvault::testing::ReadWholeFile;

// A character device node in `dir` with the numbers of /dev/null (1,3) or /dev/full (1,7), so
// tests never touch the system's own; false when this process may not make one (not root).
bool MakeCharDevice(const std::string& path, unsigned minor) {
  return ::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0;
}

TEST(ResolveOutputTest, RegularFilesAndNewNamesAreReplacedWhole) {
  testing::TempDir tmp;
  const std::string file = tmp.path() + "/f.dcm";
  absl::StatusOr<OutputTarget> target = ResolveOutput(file);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kReplace);
  EXPECT_EQ(target->path, file);
  WriteFile(file, "old");
  target = ResolveOutput(file);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kReplace);
  EXPECT_EQ(target->path, file);
}

TEST(ResolveOutputTest, FifosAndCharacterDevicesAreWrittenInPlace) {
  testing::TempDir tmp;
  const std::string fifo = tmp.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  absl::StatusOr<OutputTarget> target = ResolveOutput(fifo);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kStream);
  EXPECT_EQ(target->path, fifo);
  target = ResolveOutput("/dev/null");  // only looked at
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kStream);
}

TEST(ResolveOutputTest, SymbolicLinksAreFollowedNeverReplaced) {
  testing::TempDir tmp;
  const std::string file = tmp.path() + "/real.dcm";
  WriteFile(file, "old");
  ASSERT_EQ(::symlink(file.c_str(), (tmp.path() + "/link").c_str()), 0);
  ASSERT_EQ(::symlink((tmp.path() + "/link").c_str(), (tmp.path() + "/link2").c_str()), 0);
  absl::StatusOr<OutputTarget> target = ResolveOutput(tmp.path() + "/link2");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kReplace);
  char* real = ::realpath(file.c_str(), nullptr);
  EXPECT_EQ(target->path, std::string(real));
  std::free(real);

  const std::string fifo = tmp.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(fifo.c_str(), (tmp.path() + "/to-fifo").c_str()), 0);
  target = ResolveOutput(tmp.path() + "/to-fifo");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, OutputTarget::Kind::kStream);

  ASSERT_EQ(::symlink((tmp.path() + "/nowhere").c_str(), (tmp.path() + "/dangling").c_str()), 0);
  target = ResolveOutput(tmp.path() + "/dangling");
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition) << target.status();
  EXPECT_NE(target.status().message().find("symbolic link to nothing"), absl::string_view::npos);
}

TEST(ResolveOutputTest, FoldersSocketsAndOddPartialFilesAreRefused) {
  testing::TempDir tmp;
  absl::StatusOr<OutputTarget> target = ResolveOutput(tmp.path());
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition) << target.status();
  EXPECT_NE(target.status().message().find("is a folder"), absl::string_view::npos);

  const std::string sock = tmp.path() + "/sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  target = ResolveOutput(sock);
  ::close(fd);
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition) << target.status();
  EXPECT_NE(target.status().message().find("is a socket"), absl::string_view::npos);

  // The partial file is written and renamed: it must not be a FIFO someone left there.
  ASSERT_EQ(::mkfifo((tmp.path() + "/out.dcm.partial").c_str(), 0600), 0);
  target = ResolveOutput(tmp.path() + "/out.dcm");
  EXPECT_EQ(target.status().code(), absl::StatusCode::kFailedPrecondition) << target.status();
}

TEST(OpenStreamForWriteTest, WritesIntoAFifoAndLeavesItOne) {
  testing::TempDir tmp;
  const std::string fifo = tmp.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  testing::FifoReader reader(fifo);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::unique_ptr<WritableFile>> out = OpenStreamForWrite(fifo);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)->Append("hello ").ok());
  EXPECT_TRUE((*out)->Append("fifo").ok());
  EXPECT_TRUE((*out)->Sync().ok());
  EXPECT_TRUE((*out)->Close().ok());
  EXPECT_EQ(reader.Finish(), "hello fifo");
  struct stat st;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(OpenStreamForWriteTest, AFullDeviceIsResourceExhausted) {
  testing::TempDir tmp;
  const std::string full = tmp.path() + "/full";
  if (!MakeCharDevice(full, 7)) GTEST_SKIP() << "cannot make a device node here";
  absl::StatusOr<std::unique_ptr<WritableFile>> out = OpenStreamForWrite(full);
  ASSERT_TRUE(out.ok()) << out.status();
  absl::Status s = (*out)->Append("bytes");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_TRUE((*out)->Close().ok());
}

TEST(OpenStreamForWriteTest, NeverCreatesOrTruncates) {
  testing::TempDir tmp;
  EXPECT_EQ(OpenStreamForWrite(tmp.path() + "/missing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::ifstream(tmp.path() + "/missing").good());
  const std::string file = tmp.path() + "/regular";
  WriteFile(file, "keep");
  EXPECT_EQ(OpenStreamForWrite(file).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadWholeFile(file), "keep");
}

}  // namespace
}  // namespace medvault::cli
