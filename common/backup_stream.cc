#include "common/backup_stream.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/env.h"

namespace medvault {
namespace {

constexpr absl::string_view kMagic = "MVBACKUP";
constexpr size_t kHeaderBytes = 8 + 4 + 8 + kGcmNonceBytes;

void PutBigEndian(uint64_t v, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBigEndian(absl::string_view in) {
  uint64_t v = 0;
  for (char c : in) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

// The nonce and associated data of segment `index`.
std::string SegmentNonce(absl::string_view header, uint64_t index) {
  std::string nonce(header.substr(kHeaderBytes - kGcmNonceBytes));
  for (int i = 0; i < 8; ++i) {
    nonce[kGcmNonceBytes - 1 - i] ^= static_cast<char>((index >> (8 * i)) & 0xff);
  }
  return nonce;
}

std::string SegmentAd(absl::string_view header, uint64_t index, bool last) {
  std::string ad(header);
  PutBigEndian(index, 8, &ad);
  ad.push_back(last ? 1 : 0);
  return ad;
}

absl::Status CutShort() { return absl::DataLossError("backup file is cut short"); }

}  // namespace

bool IsBackupFormat1(absl::string_view head) {
  return head.size() >= 12 && head.substr(0, 8) == kMagic && GetBigEndian(head.substr(8, 4)) == 1;
}

BackupStreamWriter::BackupStreamWriter(std::string key, std::string header, BackupSink sink)
    : key_(std::move(key)), header_(std::move(header)), sink_(std::move(sink)) {}

BackupStreamWriter::~BackupStreamWriter() {
  WipeString(&key_);
  WipeString(&plain_);
}

absl::StatusOr<std::unique_ptr<BackupStreamWriter>> BackupStreamWriter::Start(
    const SecretBytes& key, int64_t created_unix_micros, BackupSink sink) {
  if (key.size() != kAesKeyBytes) return absl::InvalidArgumentError("backup key must be 32 bytes");
  absl::StatusOr<std::string> nonce = RandomBytes(kGcmNonceBytes);
  if (!nonce.ok()) return nonce.status();
  std::string header(kMagic);
  PutBigEndian(kBackupFormatStreamed, 4, &header);
  PutBigEndian(static_cast<uint64_t>(created_unix_micros), 8, &header);
  header += *nonce;
  if (absl::Status s = sink(header); !s.ok()) return s;
  return std::unique_ptr<BackupStreamWriter>(
      new BackupStreamWriter(std::string(key.view()), std::move(header), std::move(sink)));
}

absl::Status BackupStreamWriter::Seal(bool last) {
  std::string out;
  const size_t sealed = plain_.size() + kGcmTagBytes;
  PutBigEndian(sealed, 4, &out);
  out.resize(4 + sealed);
  absl::Status s = AesGcmSealTo(key_, SegmentNonce(header_, segment_),
                                SegmentAd(header_, segment_, last), plain_, out.data() + 4);
  WipeString(&plain_);
  plain_.clear();
  if (!s.ok()) return s;
  ++segment_;
  return sink_(out);
}

absl::Status BackupStreamWriter::Add(const v1::RaftBackupPiece& piece) {
  if (finished_) return absl::FailedPreconditionError("backup already finished");
  std::string record;
  PutBigEndian(piece.ByteSizeLong(), 4, &record);
  piece.AppendToString(&record);
  absl::string_view rest = record;
  absl::Status s;
  while (s.ok() && !rest.empty()) {
    const size_t take = std::min(rest.size(), kBackupSegmentBytes - plain_.size());
    plain_.append(rest.data(), take);
    rest.remove_prefix(take);
    if (plain_.size() == kBackupSegmentBytes) s = Seal(/*last=*/false);
  }
  WipeString(&record);
  return s;
}

absl::Status BackupStreamWriter::Finish() {
  if (finished_) return absl::FailedPreconditionError("backup already finished");
  finished_ = true;
  return Seal(/*last=*/true);
}

BackupStreamReader::BackupStreamReader(std::string key, std::string header, int64_t created,
                                       BackupSource source)
    : key_(std::move(key)),
      header_(std::move(header)),
      created_(created),
      source_(std::move(source)) {}

BackupStreamReader::~BackupStreamReader() {
  WipeString(&key_);
  WipeString(&plain_);
}

absl::StatusOr<std::unique_ptr<BackupStreamReader>> BackupStreamReader::Open(const SecretBytes& key,
                                                                             BackupSource source) {
  if (key.size() != kAesKeyBytes) return absl::InvalidArgumentError("backup key must be 32 bytes");
  std::string header(kHeaderBytes, '\0');
  size_t got = 0;
  while (got < kHeaderBytes) {
    absl::StatusOr<size_t> n = source(header.data() + got, kHeaderBytes - got);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  if (got < 12 || header.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError("not a medvault backup file");
  }
  if (GetBigEndian(absl::string_view(header).substr(8, 4)) != kBackupFormatStreamed) {
    return absl::InvalidArgumentError(
        "backup file of a format this medvault does not read as a stream (format 1 is read whole, "
        "a newer version may have made another)");
  }
  if (got < kHeaderBytes) return CutShort();
  const int64_t created =
      static_cast<int64_t>(GetBigEndian(absl::string_view(header).substr(12, 8)));
  return std::unique_ptr<BackupStreamReader>(new BackupStreamReader(
      std::string(key.view()), std::move(header), created, std::move(source)));
}

absl::Status BackupStreamReader::ReadExactly(char* buf, size_t n, size_t* got) {
  *got = 0;
  while (*got < n) {
    absl::StatusOr<size_t> r = source_(buf + *got, n - *got);
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    *got += *r;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> BackupStreamReader::Fill(size_t n) {
  while (plain_.size() - at_ < n) {
    if (seen_last_) return false;
    char len[4];
    size_t got = 0;
    if (absl::Status s = ReadExactly(len, 4, &got); !s.ok()) return s;
    if (got < 4) return CutShort();  // every file ends with the segment flagged last
    const uint64_t sealed = GetBigEndian(absl::string_view(len, 4));
    if (sealed < kGcmTagBytes || sealed > kBackupSegmentBytes + kGcmTagBytes) {
      return absl::DataLossError("backup segment has an impossible length");
    }
    std::string ciphertext(sealed, '\0');
    if (absl::Status s = ReadExactly(ciphertext.data(), sealed, &got); !s.ok()) return s;
    if (got < sealed) return CutShort();
    // Try as an inner segment, then as the last: the flag is authenticated, not stored.
    absl::StatusOr<std::string> opened = AesGcmOpen(
        key_, SegmentNonce(header_, segment_), SegmentAd(header_, segment_, false), ciphertext);
    if (!opened.ok()) {
      opened = AesGcmOpen(key_, SegmentNonce(header_, segment_), SegmentAd(header_, segment_, true),
                          ciphertext);
      if (!opened.ok()) {
        return absl::DataLossError(
            "backup does not authenticate: wrong backup key, or the file was changed or cut "
            "short");
      }
      seen_last_ = true;
      char extra;
      if (absl::Status s = ReadExactly(&extra, 1, &got); !s.ok()) return s;
      if (got != 0) return absl::DataLossError("backup file has bytes after its last segment");
    }
    ++segment_;
    plain_.erase(0, at_);
    at_ = 0;
    plain_ += *opened;
    WipeString(&*opened);
  }
  return true;
}

absl::Status BackupStreamReader::Check(const v1::RaftBackupPiece& piece) {
  const bool first = piece.group() != v1::RAFT_GROUP_UNSPECIFIED || piece.has_meta();
  if (first == in_group_) {
    return absl::DataLossError(first ? "backup group begins before the previous one ended"
                                     : "backup piece outside any group");
  }
  if (first && (piece.group() == v1::RAFT_GROUP_UNSPECIFIED || !piece.has_meta())) {
    return absl::DataLossError("backup group begins without its group or position");
  }
  in_group_ = true;
  group_records_ += static_cast<uint64_t>(piece.writes_size());
  if (piece.last()) {
    if (piece.records() != group_records_) {
      return absl::DataLossError("backup group holds another number of records than it says");
    }
    in_group_ = false;
    group_records_ = 0;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> BackupStreamReader::Next(v1::RaftBackupPiece* piece) {
  absl::StatusOr<bool> more = Fill(4);
  if (!more.ok()) return more.status();
  if (!*more) {
    if (plain_.size() != at_) return absl::DataLossError("backup ends inside a record");
    if (in_group_) return absl::DataLossError("backup ends inside a group");
    return false;
  }
  const size_t length = GetBigEndian(absl::string_view(plain_).substr(at_, 4));
  if (length > kBackupMaxRecordBytes) return absl::DataLossError("backup record is too large");
  more = Fill(4 + length);
  if (!more.ok()) return more.status();
  if (!*more) return absl::DataLossError("backup ends inside a record");
  piece->Clear();
  if (!piece->ParseFromArray(plain_.data() + at_ + 4, static_cast<int>(length))) {
    return absl::DataLossError("backup record does not parse");
  }
  std::memset(plain_.data() + at_, 0, 4 + length);
  at_ += 4 + length;
  if (absl::Status s = Check(*piece); !s.ok()) return s;
  return true;
}

BackupSource FileBackupSource(Filesystem* fs, const std::string& path) {
  auto offset = std::make_shared<uint64_t>(0);
  return [fs, path, offset](char* buf, size_t n) -> absl::StatusOr<size_t> {
    absl::StatusOr<std::string> bytes = fs->ReadFileRange(path, *offset, n);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("reading backup ", path, ": ", bytes.status().message()));
    }
    std::memcpy(buf, bytes->data(), bytes->size());
    *offset += bytes->size();
    return bytes->size();
  };
}

}  // namespace medvault
