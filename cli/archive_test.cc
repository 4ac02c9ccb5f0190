#include "cli/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/testing/temp_dir.h"

namespace medvault::cli {
namespace {

// Writes `files` (path -> bytes) as an archive of libarchive's `format` ("zip", "iso9660").
void WriteArchive(const std::string& path, const char* format,
                  const std::map<std::string, std::string>& files) {
  struct archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_by_name(a, format), ARCHIVE_OK) << archive_error_string(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, bytes] : files) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, bytes.size());
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    ASSERT_EQ(archive_write_data(a, bytes.data(), bytes.size()),
              static_cast<la_ssize_t>(bytes.size()));
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

// Reads every regular entry back, in pieces of `piece` bytes.
std::map<std::string, std::string> ReadBack(const std::string& path, size_t piece) {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  ArchiveEntry entry;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&entry);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (!entry.regular) continue;
    std::string all, p;
    do {
      EXPECT_TRUE((*reader)->Read(piece, &p).ok());
      EXPECT_LE(p.size(), piece);
      all += p;
    } while (!p.empty());
    EXPECT_EQ(all.size(), entry.size) << entry.path;
    out[entry.path] = all;
  }
  return out;
}

std::map<std::string, std::string> Medium() {
  std::string big(300'000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  return {{"DICOMDIR", "dir"}, {"DICOM/ST000000/IM000001", big}, {"README.TXT", "hello\n"}};
}

TEST(ArchiveTest, StreamsZipEntriesByteExact) {
  testing::TempDir dir;
  const std::string zip = dir.path() + "/disc.zip";
  WriteArchive(zip, "zip", Medium());
  EXPECT_EQ(ReadBack(zip, 4096), Medium());
}

TEST(ArchiveTest, StreamsIsoEntriesByteExact) {
  testing::TempDir dir;
  const std::string iso = dir.path() + "/disc.iso";
  WriteArchive(iso, "iso9660", Medium());
  std::map<std::string, std::string> back = ReadBack(iso, 65536);
  EXPECT_EQ(back, Medium());
}

TEST(ArchiveTest, ReadAllRefusesAnEntryLongerThanAllowed) {
  testing::TempDir dir;
  const std::string zip = dir.path() + "/disc.zip";
  WriteArchive(zip, "zip", {{"a", std::string(1000, 'a')}, {"b", "bb"}});
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(zip);
  ASSERT_TRUE(reader.ok());
  ArchiveEntry entry;
  ASSERT_TRUE(*(*reader)->Next(&entry));
  EXPECT_EQ((*reader)->ReadAll(999).status().code(), absl::StatusCode::kFailedPrecondition);
  // The rest of "a" is skipped by Next.
  ASSERT_TRUE(*(*reader)->Next(&entry));
  EXPECT_EQ(entry.path, "b");
  EXPECT_EQ(*(*reader)->ReadAll(2), "bb");
  EXPECT_FALSE(*(*reader)->Next(&entry));
}

TEST(ArchiveTest, RefusesWhatIsNotAnArchive) {
  testing::TempDir dir;
  const std::string text = dir.path() + "/notes.txt";
  std::ofstream(text) << std::string(4096, 'x');
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(text);
  absl::Status status = reader.ok() ? [&] {
    ArchiveEntry entry;
    return (*reader)->Next(&entry).status();
  }()
                                    : reader.status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ArchiveReader::Open(dir.path() + "/none.zip").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ArchiveTest, DamagedZipIsDataLoss) {
  testing::TempDir dir;
  const std::string zip = dir.path() + "/disc.zip";
  WriteArchive(zip, "zip", Medium());
  // Flip bytes inside the big entry's data: its CRC no longer matches.
  const auto size = std::filesystem::file_size(zip);
  std::fstream f(zip, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(size / 2));
  f.write("XXXXXXXX", 8);
  f.close();
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(zip);
  ASSERT_TRUE(reader.ok());
  ArchiveEntry entry;
  absl::Status failure;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&entry);
    if (!more.ok()) {
      failure = more.status();
      break;
    }
    if (!*more) break;
    absl::StatusOr<std::string> all = (*reader)->ReadAll(1 << 20);
    if (!all.ok()) {
      failure = all.status();
      break;
    }
  }
  EXPECT_EQ(failure.code(), absl::StatusCode::kDataLoss) << failure;
}

}  // namespace
}  // namespace medvault::cli
