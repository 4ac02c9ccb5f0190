// The backup file, format 2: written and read a segment at a time, so neither `medvault backup
// create` nor a restoring replica ever holds more than a segment and a record of it. The plaintext
// is a sequence of RaftBackupPiece records (each group's pieces together: the first with its
// position, the last with its record count); it is cut into segments sealed one by one with
// AES-256-GCM under the operator's backup key, as Tink's streaming AEAD does:
//
//   header  "MVBACKUP" | format 2 (4 bytes BE) | created (8 bytes BE, Unix micros) | nonce (12)
//   segment ciphertext length (4 bytes BE) | ciphertext || tag        (repeated)
//
// Segment i is sealed with the header's nonce XOR i (in its last 8 bytes) and the associated data
// header || i (8 bytes BE) || last flag (1 byte): segments cannot be reordered, dropped, swapped
// between files or changed, and a file cut after any segment but the one flagged last is DATA_LOSS.
// Records are framed in the plaintext by a 4-byte BE length and may span segments.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"
#include "medvault/v1/raft.pb.h"

namespace medvault {

inline constexpr uint32_t kBackupFormatStreamed = 2;
// Plaintext bytes per segment (the last may hold fewer).
inline constexpr size_t kBackupSegmentBytes = 1 << 20;
// The largest record a reader accepts (a piece is far smaller: the leader bounds it).
inline constexpr size_t kBackupMaxRecordBytes = 64 << 20;

// Takes the sealed bytes in order (a file being written, a test's string).
using BackupSink = std::function<absl::Status(absl::string_view bytes)>;
// Reads up to `n` bytes into `buf`; returns how many (0 only at the end of the input).
using BackupSource = std::function<absl::StatusOr<size_t>(char* buf, size_t n)>;

// Seals records into a format-2 backup. Not thread-safe.
class BackupStreamWriter {
 public:
  // Writes the header to `sink` at once. INVALID_ARGUMENT unless `key` has kAesKeyBytes.
  static absl::StatusOr<std::unique_ptr<BackupStreamWriter>> Start(const SecretBytes& key,
                                                                   int64_t created_unix_micros,
                                                                   BackupSink sink);
  ~BackupStreamWriter();

  // Appends one record; every full segment goes to the sink.
  absl::Status Add(const v1::RaftBackupPiece& piece);
  // Seals the rest as the last segment. Nothing may be added after.
  absl::Status Finish();

 private:
  BackupStreamWriter(std::string key, std::string header, BackupSink sink);
  absl::Status Seal(bool last);

  std::string key_;
  const std::string header_;
  BackupSink sink_;
  std::string plain_;  // the segment being filled
  uint64_t segment_ = 0;
  bool finished_ = false;
};

// Opens a format-2 backup and yields its records, checking as it goes that each group's pieces
// are well formed (first with a position, last with the count of the writes before it) and, at the
// end, that the file ends with its last segment and every group it began is complete. Not
// thread-safe.
class BackupStreamReader {
 public:
  // Reads the header. INVALID_ARGUMENT when the input is no medvault backup or of another format
  // (`format()` of a format-1 file is still set: see IsFormat1); DATA_LOSS when it is cut short.
  static absl::StatusOr<std::unique_ptr<BackupStreamReader>> Open(const SecretBytes& key,
                                                                  BackupSource source);
  ~BackupStreamReader();

  int64_t created_unix_micros() const { return created_; }
  // The next record into `piece`: true, or false at the (verified) end of the file. DATA_LOSS when
  // a segment does not authenticate (a wrong key, a change), the file is cut short or a group is
  // incomplete or malformed; never any byte of the contents in a message.
  absl::StatusOr<bool> Next(v1::RaftBackupPiece* piece);

 private:
  BackupStreamReader(std::string key, std::string header, int64_t created, BackupSource source);
  absl::Status ReadExactly(char* buf, size_t n, size_t* got);
  // Makes at least `n` plaintext bytes available after `at_`, opening segments; false at the end.
  absl::StatusOr<bool> Fill(size_t n);
  absl::Status Check(const v1::RaftBackupPiece& piece);

  std::string key_;
  const std::string header_;
  const int64_t created_;
  BackupSource source_;
  std::string plain_;  // opened plaintext not yet consumed starts at at_
  size_t at_ = 0;
  uint64_t segment_ = 0;
  bool seen_last_ = false;
  bool in_group_ = false;
  uint64_t group_records_ = 0;
};

// The first 12 bytes of a format-1 backup (common/backup_file.h), held whole in memory.
bool IsBackupFormat1(absl::string_view head);

// A source over a file, read `kBackupSegmentBytes` at a time through `fs` (ReadFileRange).
class Filesystem;
BackupSource FileBackupSource(Filesystem* fs, const std::string& path);

}  // namespace medvault
