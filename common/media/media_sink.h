// Where an exported file set goes: a folder, or an archive written by libarchive (a ZIP file, an
// ISO 9660 image, or a ZIP streamed to a callback, e.g. an HTTP answer). Files are written one at a
// time, each announced with its exact size, so a ZIP is streamed entry by entry and never held
// whole in memory (libarchive's ISO 9660 writer, which must lay out the image before writing it,
// keeps the files' contents in a temporary file of its own until Close).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault::media {

enum class MediaFormat { kDirectory, kZip, kIso };

// Parses "dir", "zip" or "iso"; INVALID_ARGUMENT otherwise.
absl::StatusOr<MediaFormat> ParseMediaFormat(absl::string_view name);

// Not thread-safe. Begin a file, Write exactly its size in pieces, End it; then the next; Close.
class MediaSink {
 public:
  virtual ~MediaSink() = default;
  // `path` is relative, '/'-separated (folders are created as needed).
  virtual absl::Status BeginFile(const std::string& path, uint64_t size) = 0;
  virtual absl::Status Write(absl::string_view data) = 0;
  virtual absl::Status EndFile() = 0;
  // Finishes the medium (an archive's central directory, the ISO image). A sink destroyed without
  // Close (after an error) writes nothing more: the archive stays visibly incomplete.
  virtual absl::Status Close() = 0;
};

// A folder (created if missing; it must be empty or not exist, so an export never mixes with
// other files). INVALID_ARGUMENT when it holds anything.
absl::StatusOr<std::unique_ptr<MediaSink>> NewDirectorySink(const std::string& root);

// What Close of an archive file does, for a progress bar: libarchive's ISO 9660 writer lays out and
// writes the whole image there (the files' contents wait in its temporary file until then), which
// takes as long as writing the medium. `begin(estimate)` is called once when Close starts, with an
// estimate of the bytes still to write (the staged files rounded up to 2 KiB sectors, plus the
// volume descriptors and directories; the exact size is known only at the end); `written(total)`
// each time bytes reach the file, with the bytes written at Close so far. Either may be empty.
struct CloseProgress {
  std::function<void(uint64_t estimate)> begin;
  std::function<void(uint64_t total)> written;
};

// A ZIP file or an ISO 9660 image (Rock Ridge and Joliet off: the plain ISO 9660 names the PDI
// profile asks for) at `path`, created or replaced.
absl::StatusOr<std::unique_ptr<MediaSink>> NewArchiveFileSink(const std::string& path,
                                                              MediaFormat format,
                                                              const std::string& volume_id = "",
                                                              CloseProgress progress = {});

// A ZIP whose bytes are handed to `out` as libarchive produces them. An error from `out` fails the
// write in progress.
using ByteSink = std::function<absl::Status(absl::string_view bytes)>;
absl::StatusOr<std::unique_ptr<MediaSink>> NewZipStreamSink(ByteSink out);

}  // namespace medvault::media
