// The streamed backup file (format 2): what is written reads back record by record with the same
// key, and a file cut short, changed, reordered, or holding an incomplete group never reads as
// complete.
#include "common/backup_stream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/backup_file.h"

namespace medvault {
namespace {

const SecretBytes& Key() {
  static const SecretBytes* key = new SecretBytes(std::string(kAesKeyBytes, 'k'));
  return *key;
}

// A group of `pieces` pieces of `per_piece` writes with ~1 KiB values.
std::vector<v1::RaftBackupPiece> Group(v1::RaftGroup group, int pieces, int per_piece) {
  std::vector<v1::RaftBackupPiece> out(pieces);
  uint64_t records = 0;
  for (int p = 0; p < pieces; ++p) {
    if (p == 0) {
      out[p].set_group(group);
      out[p].mutable_meta()->set_index(100 + group);
    }
    for (int w = 0; w < per_piece; ++w, ++records) {
      v1::RaftKvWrite* write = out[p].add_writes();
      write->set_cf("cf");
      write->set_key(absl::StrCat("key-", group, "-", records));
      write->set_value(std::string(1000 + records % 7, static_cast<char>('a' + records % 26)));
    }
  }
  out.back().set_last(true);
  out.back().set_records(records);
  return out;
}

std::string Write(const std::vector<v1::RaftBackupPiece>& pieces, bool finish = true) {
  std::string file;
  absl::StatusOr<std::unique_ptr<BackupStreamWriter>> w =
      BackupStreamWriter::Start(Key(), 1234, [&](absl::string_view b) {
        file.append(b.data(), b.size());
        return absl::OkStatus();
      });
  EXPECT_TRUE(w.ok()) << w.status();
  for (const v1::RaftBackupPiece& p : pieces) EXPECT_TRUE((*w)->Add(p).ok());
  if (finish) {
    EXPECT_TRUE((*w)->Finish().ok());
  }
  return file;
}

BackupSource StringSource(const std::string& file) {
  auto at = std::make_shared<size_t>(0);
  return [&file, at](char* buf, size_t n) -> absl::StatusOr<size_t> {
    // Short reads on purpose: a reader must not assume a full one.
    const size_t take = std::min({n, file.size() - *at, size_t{70000}});
    std::memcpy(buf, file.data() + *at, take);
    *at += take;
    return take;
  };
}

// Reads every record; the final status (OK at a verified end).
absl::Status ReadAll(const std::string& file, std::vector<v1::RaftBackupPiece>* out,
                     const SecretBytes& key = Key()) {
  absl::StatusOr<std::unique_ptr<BackupStreamReader>> r =
      BackupStreamReader::Open(key, StringSource(file));
  if (!r.ok()) return r.status();
  v1::RaftBackupPiece piece;
  while (true) {
    absl::StatusOr<bool> more = (*r)->Next(&piece);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    if (out != nullptr) out->push_back(piece);
  }
}

std::vector<v1::RaftBackupPiece> TwoGroups() {
  std::vector<v1::RaftBackupPiece> pieces = Group(v1::RAFT_GROUP_METASERVER, 12, 300);
  for (v1::RaftBackupPiece& p : Group(v1::RAFT_GROUP_KEYSERVICE, 3, 50)) pieces.push_back(p);
  return pieces;
}

TEST(BackupStreamTest, RoundTripsRecordsAcrossSegments) {
  const std::vector<v1::RaftBackupPiece> pieces = TwoGroups();
  const std::string file = Write(pieces);
  ASSERT_GT(file.size(), 3 * kBackupSegmentBytes);    // records span several segments
  EXPECT_EQ(file.find("key-1-"), std::string::npos);  // ciphertext only
  std::vector<v1::RaftBackupPiece> back;
  ASSERT_TRUE(ReadAll(file, &back).ok());
  ASSERT_EQ(back.size(), pieces.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].SerializeAsString(), pieces[i].SerializeAsString()) << i;
  }
  absl::StatusOr<std::unique_ptr<BackupStreamReader>> r =
      BackupStreamReader::Open(Key(), StringSource(file));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->created_unix_micros(), 1234);
}

TEST(BackupStreamTest, EmptyBackupIsComplete) { EXPECT_TRUE(ReadAll(Write({}), nullptr).ok()); }

TEST(BackupStreamTest, AFileCutAnywhereIsDataLoss) {
  const std::string file = Write(TwoGroups());
  const size_t header = 32;
  std::vector<size_t> cuts = {header, header + 3, header + 4 + 100};
  // At and around every segment boundary, and in the last segment.
  for (size_t s = 1; header + s * (4 + kBackupSegmentBytes + kGcmTagBytes) < file.size(); ++s) {
    const size_t boundary = header + s * (4 + kBackupSegmentBytes + kGcmTagBytes);
    cuts.insert(cuts.end(), {boundary - 1, boundary, boundary + 4});
  }
  cuts.push_back(file.size() - 1);
  for (size_t cut : cuts) {
    EXPECT_EQ(ReadAll(file.substr(0, cut), nullptr).code(), absl::StatusCode::kDataLoss)
        << "cut at " << cut << " of " << file.size();
  }
  // A writer that never finished (the CLI lost its stream) leaves no last segment.
  EXPECT_EQ(ReadAll(Write(TwoGroups(), /*finish=*/false), nullptr).code(),
            absl::StatusCode::kDataLoss);
  // Bytes after the last segment.
  EXPECT_EQ(ReadAll(file + "x", nullptr).code(), absl::StatusCode::kDataLoss);
}

TEST(BackupStreamTest, AChangedOrReorderedFileIsDataLoss) {
  const std::string file = Write(TwoGroups());
  for (size_t at : {size_t{13}, size_t{25}, size_t{40}, file.size() / 2, file.size() - 1}) {
    std::string changed = file;
    changed[at] ^= 0x20;
    EXPECT_FALSE(ReadAll(changed, nullptr).ok()) << "byte " << at;
  }
  // Segment 1 dropped, or segments 1 and 2 swapped.
  const size_t seg = 4 + kBackupSegmentBytes + kGcmTagBytes, s1 = 32 + seg;
  std::string dropped = file.substr(0, s1) + file.substr(s1 + seg);
  EXPECT_EQ(ReadAll(dropped, nullptr).code(), absl::StatusCode::kDataLoss);
  std::string swapped = file.substr(0, s1) + file.substr(s1 + seg, seg) + file.substr(s1, seg) +
                        file.substr(s1 + 2 * seg);
  EXPECT_EQ(ReadAll(swapped, nullptr).code(), absl::StatusCode::kDataLoss);
  const SecretBytes other(std::string(kAesKeyBytes, 'o'));
  absl::Status wrong = ReadAll(file, nullptr, other);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wrong.message().find("does not authenticate"), std::string::npos);
}

TEST(BackupStreamTest, IncompleteOrMiscountedGroupIsDataLoss) {
  std::vector<v1::RaftBackupPiece> pieces = Group(v1::RAFT_GROUP_METASERVER, 3, 10);
  std::vector<v1::RaftBackupPiece> no_last(pieces.begin(), pieces.end() - 1);
  EXPECT_EQ(ReadAll(Write(no_last), nullptr).code(), absl::StatusCode::kDataLoss);
  std::vector<v1::RaftBackupPiece> miscounted = pieces;
  miscounted.back().set_records(29);
  EXPECT_EQ(ReadAll(Write(miscounted), nullptr).code(), absl::StatusCode::kDataLoss);
  std::vector<v1::RaftBackupPiece> lost_middle = {pieces[0], pieces[2]};
  EXPECT_EQ(ReadAll(Write(lost_middle), nullptr).code(), absl::StatusCode::kDataLoss);
  std::vector<v1::RaftBackupPiece> headless(pieces.begin() + 1, pieces.end());
  EXPECT_EQ(ReadAll(Write(headless), nullptr).code(), absl::StatusCode::kDataLoss);
  // A group that begins before the one before it ended, its count covering both.
  std::vector<v1::RaftBackupPiece> overlapping = {pieces[0]};
  v1::RaftBackupPiece other = Group(v1::RAFT_GROUP_KEYSERVICE, 1, 5)[0];
  other.set_records(15);
  overlapping.push_back(other);
  EXPECT_EQ(ReadAll(Write(overlapping), nullptr).code(), absl::StatusCode::kDataLoss);
}

TEST(BackupStreamTest, OtherFilesAreInvalidArgument) {
  EXPECT_EQ(ReadAll("", nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadAll("definitely not a backup file at all", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  v1::BackupContents contents;
  contents.set_created_unix_micros(1);
  absl::StatusOr<std::string> v1_file = SealBackup(contents, Key());
  ASSERT_TRUE(v1_file.ok());
  EXPECT_TRUE(IsBackupFormat1(*v1_file));
  EXPECT_FALSE(IsBackupFormat1(Write({})));
  EXPECT_EQ(ReadAll(*v1_file, nullptr).code(), absl::StatusCode::kInvalidArgument);
  // The header alone, cut in the middle of the nonce: a backup, cut short.
  EXPECT_EQ(ReadAll(Write({}).substr(0, 20), nullptr).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace medvault
