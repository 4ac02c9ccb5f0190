#include "keyservice/core/kek.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace medvault::keyservice {
namespace {

// Writes `content` to `dir`/name with `mode` and returns the path.
std::string WriteKeyFile(const std::string& dir, const std::string& name,
                         const std::string& content, mode_t mode) {
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

std::string RawKey() { return RandomBytes(kAesKeyBytes).value(); }

TEST(LoadKekFileTest, Accepts0600RawKey) {
  testing::TempDir dir;
  const std::string raw = RawKey();
  auto kek = LoadKekFile(WriteKeyFile(dir.path(), "kek", raw, 0600));
  ASSERT_TRUE(kek.ok()) << kek.status();
  EXPECT_EQ(kek->view(), raw);
}

TEST(LoadKekFileTest, Accepts0400) {
  testing::TempDir dir;
  const std::string raw = RawKey();
  auto kek = LoadKekFile(WriteKeyFile(dir.path(), "kek", raw, 0400));
  ASSERT_TRUE(kek.ok()) << kek.status();
  EXPECT_EQ(kek->view(), raw);
}

TEST(LoadKekFileTest, AcceptsHexWithAndWithoutNewline) {
  testing::TempDir dir;
  const std::string raw = RawKey();
  std::string hex = ToHex(raw);
  auto plain = LoadKekFile(WriteKeyFile(dir.path(), "a", hex, 0600));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->view(), raw);
  auto newline = LoadKekFile(WriteKeyFile(dir.path(), "b", hex + "\n", 0600));
  ASSERT_TRUE(newline.ok()) << newline.status();
  EXPECT_EQ(newline->view(), raw);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto upper = LoadKekFile(WriteKeyFile(dir.path(), "c", hex, 0600));
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->view(), raw);
}

TEST(LoadKekFileTest, RefusesGroupOrWorldAccess) {
  testing::TempDir dir;
  for (mode_t mode : {0644, 0640, 0604, 0660, 0606, 0700, 0444}) {
    const std::string raw = RawKey();
    const std::string path = WriteKeyFile(dir.path(), "kek", raw, mode);
    auto kek = LoadKekFile(path);
    EXPECT_EQ(kek.status().code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_NE(kek.status().message().find(path), absl::string_view::npos) << kek.status();
    EXPECT_EQ(kek.status().message().find(raw), absl::string_view::npos);
  }
}

TEST(LoadKekFileTest, RefusesWrongSizeWithoutLeakingContent) {
  testing::TempDir dir;
  const std::string hex = ToHex(RawKey());
  for (const std::string& content :
       {std::string(), std::string(31, 'k'), std::string(33, 'k'), hex.substr(0, 62), hex + "\n\n",
        hex + "00", hex + " ", hex + hex}) {
    const std::string path = WriteKeyFile(dir.path(), "kek", content, 0600);
    auto kek = LoadKekFile(path);
    EXPECT_EQ(kek.status().code(), absl::StatusCode::kFailedPrecondition) << content.size();
    EXPECT_NE(kek.status().message().find(path), absl::string_view::npos) << kek.status();
    EXPECT_EQ(kek.status().message().find(hex.substr(0, 16)), absl::string_view::npos)
        << kek.status();
  }
}

TEST(LoadKekFileTest, RefusesNonHex64Chars) {
  testing::TempDir dir;
  std::string content = ToHex(RawKey());
  content[10] = 'g';
  auto kek = LoadKekFile(WriteKeyFile(dir.path(), "kek", content, 0600));
  EXPECT_EQ(kek.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(kek.status().message().find(content.substr(0, 16)), absl::string_view::npos);
}

TEST(LoadKekFileTest, RefusesMissingFileAndDirectory) {
  testing::TempDir dir;
  const std::string missing = dir.path() + "/nope";
  auto kek = LoadKekFile(missing);
  EXPECT_EQ(kek.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(kek.status().message().find(missing), absl::string_view::npos);

  const std::string subdir = dir.path() + "/sub";
  ASSERT_EQ(::mkdir(subdir.c_str(), 0700), 0);
  EXPECT_EQ(LoadKekFile(subdir).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KekRingTest, NewestWrapsAnyHeldVersionFound) {
  KekRing ring;
  EXPECT_EQ(ring.Newest().status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string k1 = RawKey(), k3 = RawKey();
  ASSERT_TRUE(ring.Add(1, SecretBytes(k1)).ok());
  ASSERT_TRUE(ring.Add(3, SecretBytes(k3)).ok());
  EXPECT_EQ(ring.Newest()->version, 3u);
  EXPECT_EQ(ring.Newest()->key, k3);
  EXPECT_EQ(ring.Find(1)->key, k1);
  EXPECT_EQ(ring.Find(2).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring.versions(), (std::vector<uint32_t>{1, 3}));
}

TEST(KekRingTest, RejectsBadVersionsAndKeys) {
  KekRing ring;
  EXPECT_EQ(ring.Add(0, SecretBytes(RawKey())).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring.Add(1, SecretBytes(std::string(16, 'k'))).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(ring.Add(1, SecretBytes(RawKey())).ok());
  EXPECT_EQ(ring.Add(1, SecretBytes(RawKey())).code(), absl::StatusCode::kInvalidArgument);
}

// A Kubernetes Secret volume: the files are symlinks "1" -> "..data/1", "..data" a symlink to a
// timestamped directory, with the mode from the Secret's defaultMode.
TEST(LoadKekDirTest, LoadsAMountedKubernetesSecret) {
  testing::TempDir dir;
  const std::string stamp = dir.path() + "/..2026_11_23_13_00_00.123";
  ASSERT_EQ(::mkdir(stamp.c_str(), 0755), 0);
  const std::string k1 = RawKey(), k2 = RawKey();
  WriteKeyFile(stamp, "1", k1, 0400);
  WriteKeyFile(stamp, "2", k2, 0400);
  ASSERT_EQ(::symlink("..2026_11_23_13_00_00.123", (dir.path() + "/..data").c_str()), 0);
  ASSERT_EQ(::symlink("..data/1", (dir.path() + "/1").c_str()), 0);
  ASSERT_EQ(::symlink("..data/2", (dir.path() + "/kek-2").c_str()), 0);
  KekRing ring;
  auto loaded = LoadKekDir(dir.path(), &ring);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(ring.Find(1)->key, k1);
  EXPECT_EQ(ring.Newest()->version, 2u);
}

TEST(LoadKekDirTest, RefusesStrayNamesOpenModesAndEmptyDirectories) {
  testing::TempDir dir;
  KekRing ring;
  EXPECT_EQ(LoadKekDir(dir.path(), &ring).status().code(),
            absl::StatusCode::kFailedPrecondition);  // empty
  WriteKeyFile(dir.path(), "1", RawKey(), 0644);     // the Secret's default mode: too open
  auto open = LoadKekDir(dir.path(), &ring);
  EXPECT_EQ(open.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(open.status().message().find("0644"), std::string::npos) << open.status();
  ASSERT_EQ(::chmod((dir.path() + "/1").c_str(), 0400), 0);
  WriteKeyFile(dir.path(), "master.key", RawKey(), 0400);
  auto stray = LoadKekDir(dir.path(), &ring);
  EXPECT_EQ(stray.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stray.status().message().find("master.key"), std::string::npos) << stray.status();
  EXPECT_EQ(LoadKekDir(dir.path() + "/missing", &ring).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace medvault::keyservice
