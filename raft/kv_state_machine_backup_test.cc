// A state machine's backup stream: bounded pieces of one consistent view (applies made while it is
// being read are not in it), the first with the position and the last with the count; and
// RestoreStream puts exactly those records back, replacing whatever was there.
#include <rocksdb/write_batch.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/testing/temp_dir.h"
#include "raft/kv_state_machine.h"
#include "raft/rocks_log_storage.h"
#include "raft/testing/kv_machine.h"

namespace medvault::raft {
namespace {

using Machine = testing::KvMachine;

TEST(KvStateMachineBackupTest, StreamsOneViewInBoundedPiecesAndRestoresIt) {
  medvault::testing::TempDir dir;
  Machine source(dir.path() + "/source");
  for (int i = 0; i < 200; ++i) {
    source.Put(i % 2 ? "a" : "b", absl::StrCat("k", i), std::string(50, 'v'));
  }
  const uint64_t index = source.machine->Applied().index();

  std::vector<v1::RaftBackupPiece> pieces;
  absl::Status s = source.machine->StreamSnapshot(100, [&](const v1::RaftBackupPiece& piece) {
    pieces.push_back(piece);
    // Applied while the stream runs: after its view, so not in it.
    if (pieces.size() == 1) source.Put("b", "late", "v");  // "b" is read after "a"
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_GT(pieces.size(), 50u);  // ~100 bytes a piece, ~55 a record: many pieces
  EXPECT_TRUE(pieces.front().has_meta());
  EXPECT_EQ(pieces.front().meta().index(), index);
  uint64_t records = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(pieces[i].has_meta(), i == 0);
    EXPECT_EQ(pieces[i].last(), i + 1 == pieces.size());
    EXPECT_LE(pieces[i].writes_size(), 2);
    for (const v1::RaftKvWrite& w : pieces[i].writes()) {
      EXPECT_NE(w.key(), "late");
      ++records;
    }
  }
  EXPECT_EQ(records, 200u);
  EXPECT_EQ(pieces.back().records(), 200u);

  // An error from the caller ends the stream with it.
  int calls = 0;
  EXPECT_EQ(source.machine
                ->StreamSnapshot(100,
                                 [&](const v1::RaftBackupPiece&) {
                                   return ++calls == 3 ? absl::CancelledError("gone")
                                                       : absl::OkStatus();
                                 })
                .code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 3);

  // Restored into a machine holding other state: exactly the streamed records, at a new group's
  // position.
  Machine target(dir.path() + "/target");
  target.Put("a", "stale", "v");
  s = target.machine->RestoreStream(
      [&](const std::function<absl::Status(const v1::RaftKvWrite&)>& write) {
        for (const v1::RaftBackupPiece& p : pieces) {
          for (const v1::RaftKvWrite& w : p.writes()) {
            if (absl::Status ws = write(w); !ws.ok()) return ws;
          }
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(target.Count("a") + target.Count("b"), 200u);
  EXPECT_FALSE(target.kv->Get("a", "stale").ok());
  EXPECT_EQ(target.machine->Applied().index(), 0u);
}

}  // namespace
}  // namespace medvault::raft
