#include "common/media/media_sink.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace medvault::media {
namespace {

// Writes `files` (path, size) of filler bytes to `sink` and closes it.
absl::Status WriteFiles(MediaSink& sink, const std::vector<std::pair<std::string, size_t>>& files) {
  for (const auto& [path, size] : files) {
    if (absl::Status s = sink.BeginFile(path, size); !s.ok()) return s;
    const std::string piece(size, 'x');
    if (absl::Status s = sink.Write(piece); !s.ok()) return s;
    if (absl::Status s = sink.EndFile(); !s.ok()) return s;
  }
  return sink.Close();
}

// The ISO image is laid out and written at Close: its progress starts there, with an estimate
// close to the image's size, and counts every byte of the image as it reaches the file.
TEST(ArchiveFileSinkTest, IsoCloseReportsTheImageAsItIsWritten) {
  testing::TempDir dir;
  const std::string iso = dir.path() + "/DISC.ISO";
  int begins = 0;
  uint64_t estimate = 0, last = 0, reports = 0;
  bool before_begin = false;
  CloseProgress progress;
  progress.begin = [&](uint64_t e) {
    ++begins;
    estimate = e;
  };
  progress.written = [&](uint64_t total) {
    if (begins == 0) before_begin = true;
    EXPECT_GE(total, last);
    last = total;
    ++reports;
  };
  absl::StatusOr<std::unique_ptr<MediaSink>> sink =
      NewArchiveFileSink(iso, MediaFormat::kIso, "MEDVAULT", progress);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<std::pair<std::string, size_t>> files = {{"README.TXT", 100}};
  for (int i = 0; i < 8; ++i) {
    files.push_back({"DICOM/ST000001/SE000001/IM00000" + std::to_string(i), 300'000});
  }
  ASSERT_TRUE(WriteFiles(**sink, files).ok());
  EXPECT_EQ(begins, 1);
  EXPECT_FALSE(before_begin);  // nothing reaches the file before the layout
  EXPECT_GT(reports, 1u);      // reported as it goes, not once at the end
  const uint64_t size = std::filesystem::file_size(iso);
  EXPECT_EQ(last, size);
  // The estimate is within a few sectors of the real image (here 2.4 MB).
  EXPECT_LE(estimate > size ? estimate - size : size - estimate, 16u * 2048)
      << estimate << " " << size;
}

// An archive file that cannot be created: the error names the path's problem, as before.
TEST(ArchiveFileSinkTest, UncreatableFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<MediaSink>> sink =
      NewArchiveFileSink("/nonexistent-folder/d.iso", MediaFormat::kIso);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kNotFound) << sink.status();
}

}  // namespace
}  // namespace medvault::media
