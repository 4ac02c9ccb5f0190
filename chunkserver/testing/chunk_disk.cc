#include "chunkserver/testing/chunk_disk.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "chunkserver/core/chunk_file.h"
#include "chunkserver/core/pack_format.h"
#include "common/crypto.h"

namespace medvault::chunkserver::testing {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset, uint64_t length) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  in.seekg(static_cast<std::streamoff>(offset));
  std::string out(length, '\0');
  in.read(out.data(), static_cast<std::streamsize>(length));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

absl::Status WriteRange(const std::string& path, uint64_t offset, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (!fs::exists(path)) std::ofstream(path, std::ios::binary).close();
  std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!out) return absl::InternalError(absl::StrCat("cannot open ", path, " for writing"));
  out.seekp(static_cast<std::streamoff>(offset));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("writing ", path));
}

std::vector<ChunkOnDisk> ListFiles(const std::string& dir) {
  std::vector<ChunkOnDisk> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    absl::StatusOr<std::string> id = FromHex(it->path().filename().string());
    if (!id.ok() || id->size() != kChunkIdBytes) continue;
    out.push_back(ChunkOnDisk{*id, it->path().string(), 0, it->file_size(), kChunkHeaderBytes});
  }
  return out;
}

// The records of one extent up to its first invalid one, in file order.
absl::Status ScanExtent(const std::string& path, uint64_t extent,
                        std::map<std::string, std::pair<uint64_t, ChunkOnDisk>>* newest,
                        std::set<std::string>* tombstoned) {
  absl::StatusOr<std::string> bytes = ReadRange(path, 0, fs::file_size(path));
  if (!bytes.ok()) return bytes.status();
  if (!CheckExtentHeader(*bytes, extent).ok()) return absl::OkStatus();
  uint64_t off = kExtentHeaderBytes;
  while (off + kRecordHeaderBytes <= bytes->size()) {
    absl::StatusOr<RecordHeader> h =
        DecodeRecordHeader(absl::string_view(*bytes).substr(off, kRecordHeaderBytes));
    if (!h.ok() || h->payload_length > bytes->size() - off - kRecordHeaderBytes) break;
    const uint64_t length = kRecordHeaderBytes + h->payload_length;
    auto& [seq, chunk] = (*newest)[h->id];
    if (h->seq >= seq) {
      seq = h->seq;
      chunk = ChunkOnDisk{h->id, path, off, length, kRecordHeaderBytes, /*packed=*/true};
      if (h->type == RecordType::kTombstone) {
        tombstoned->insert(h->id);
      } else {
        tombstoned->erase(h->id);
      }
    }
    off += length;
  }
  return absl::OkStatus();
}

std::vector<ChunkOnDisk> Sorted(std::vector<ChunkOnDisk> chunks) {
  std::sort(chunks.begin(), chunks.end(),
            [](const ChunkOnDisk& a, const ChunkOnDisk& b) { return a.id < b.id; });
  return chunks;
}

}  // namespace

std::string LayoutOf(const std::string& data_dir) {
  if (fs::is_directory(data_dir + "/pack")) return "pack";
  if (fs::is_directory(data_dir + "/chunks")) return "files";
  return "";
}

absl::StatusOr<std::vector<ChunkOnDisk>> ListChunksOnDisk(const std::string& data_dir) {
  const std::string layout = LayoutOf(data_dir);
  if (layout == "files") return Sorted(ListFiles(data_dir + "/chunks"));
  if (layout != "pack") return std::vector<ChunkOnDisk>();
  std::map<uint64_t, std::string> extents;
  for (const auto& e : fs::directory_iterator(data_dir + "/pack")) {
    uint64_t extent = 0;
    if (ParseExtentFileName(e.path().filename().string(), &extent)) {
      extents[extent] = e.path().string();
    }
  }
  // Sequence numbers order records across extents: a compaction copy keeps its original's.
  std::map<std::string, std::pair<uint64_t, ChunkOnDisk>> newest;
  std::set<std::string> tombstoned;
  for (const auto& [extent, path] : extents) {
    absl::Status s = ScanExtent(path, extent, &newest, &tombstoned);
    if (!s.ok()) return s;
  }
  std::vector<ChunkOnDisk> out;
  for (auto& [id, entry] : newest) {
    if (tombstoned.count(id) == 0) out.push_back(std::move(entry.second));
  }
  return out;
}

absl::StatusOr<size_t> CountChunksOnDisk(const std::string& data_dir,
                                         const std::vector<std::string>& ids) {
  absl::StatusOr<std::vector<ChunkOnDisk>> chunks = ListChunksOnDisk(data_dir);
  if (!chunks.ok()) return chunks.status();
  const std::set<std::string> wanted(ids.begin(), ids.end());
  size_t n = 0;
  for (const ChunkOnDisk& c : *chunks) n += wanted.count(c.id);
  return n;
}

absl::StatusOr<std::string> ReadChunkOnDisk(const ChunkOnDisk& chunk) {
  return ReadRange(chunk.path, chunk.offset, chunk.length);
}

absl::Status RestoreChunkOnDisk(const ChunkOnDisk& chunk, const std::string& bytes) {
  return WriteRange(chunk.path, chunk.offset, bytes);
}

absl::Status CorruptChunkOnDisk(const ChunkOnDisk& chunk) {
  if (chunk.length <= chunk.payload_offset) {
    return absl::FailedPreconditionError("the chunk has no payload to corrupt");
  }
  const uint64_t at = chunk.offset + chunk.payload_offset +
                      std::min<uint64_t>(64, chunk.length - chunk.payload_offset - 1);
  absl::StatusOr<std::string> byte = ReadRange(chunk.path, at, 1);
  if (!byte.ok()) return byte.status();
  if (byte->size() != 1) return absl::OutOfRangeError("the chunk is shorter than listed");
  (*byte)[0] = static_cast<char>((*byte)[0] ^ 0x5a);
  return WriteRange(chunk.path, at, *byte);
}

absl::Status RemoveChunkOnDisk(const ChunkOnDisk& chunk) {
  if (!chunk.packed) {
    std::error_code ec;
    if (!fs::remove(chunk.path, ec))
      return absl::NotFoundError(absl::StrCat("removing ", chunk.path));
    return absl::OkStatus();
  }
  return WriteRange(chunk.path, chunk.offset, std::string(kRecordHeaderBytes, '\0'));
}

absl::Status SwapChunksOnDisk(const ChunkOnDisk& a, const ChunkOnDisk& b) {
  if (!a.packed && !b.packed) {
    std::error_code ec;
    fs::rename(a.path, a.path + ".swap", ec);
    if (!ec) fs::rename(b.path, a.path, ec);
    if (!ec) fs::rename(a.path + ".swap", b.path, ec);
    return ec ? absl::InternalError(ec.message()) : absl::OkStatus();
  }
  if (a.length != b.length) {
    return absl::FailedPreconditionError("records of different lengths cannot be swapped in place");
  }
  absl::StatusOr<std::string> a_bytes = ReadChunkOnDisk(a);
  absl::StatusOr<std::string> b_bytes = ReadChunkOnDisk(b);
  if (!a_bytes.ok()) return a_bytes.status();
  if (!b_bytes.ok()) return b_bytes.status();
  absl::Status s = RestoreChunkOnDisk(a, *b_bytes);
  return s.ok() ? RestoreChunkOnDisk(b, *a_bytes) : s;
}

}  // namespace medvault::chunkserver::testing
