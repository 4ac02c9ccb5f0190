// A KvStateMachine over its own RocksDB in a directory, for unit tests: replicates column families
// "a" and "b", applies one-put commands, reopens as a restart would.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "raft/kv_state_machine.h"
#include "raft/rocks_log_storage.h"

namespace medvault::raft::testing {

inline const std::vector<std::string> kStateCfs = {"a", "b"};

struct KvMachine {
  explicit KvMachine(std::string path) : path(std::move(path)) { Open(); }
  void Open() {
    std::vector<std::string> cfs = kStateCfs;
    for (const std::string& cf : RaftColumnFamilies()) cfs.push_back(cf);
    kv = std::move(KvStore::Open(path, cfs).value());
    absl::StatusOr<std::unique_ptr<KvStateMachine>> opened =
        KvStateMachine::Open(kv.get(), kStateCfs);
    ASSERT_TRUE(opened.ok()) << opened.status();
    machine = std::move(*opened);
  }
  // What a kill -9 leaves: the database as last written (every write reached the write-ahead log).
  void Reopen() {
    machine.reset();
    kv.reset();
    Open();
  }
  // Applies one command putting `key` = `value` in `cf`.
  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(kv->cf(cf), key, value).ok());
    absl::StatusOr<std::string> command = machine->EncodeCommand(batch);
    ASSERT_TRUE(command.ok()) << command.status();
    Entry e;
    e.set_index(machine->Applied().index() + 1);
    e.set_term(1);
    e.set_type(v1::RAFT_ENTRY_COMMAND);
    e.set_data(*command);
    absl::StatusOr<std::vector<absl::Status>> results = machine->Apply({e});
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_TRUE(results->front().ok()) << results->front();
  }
  size_t Count(const std::string& cf) {
    size_t n = 0;
    auto it = kv->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }
  // Every record of a column family, "key=value;" in key order.
  std::string Dump(const std::string& cf) {
    std::string out;
    auto it = kv->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next())
      absl::StrAppend(&out, it->key().ToString(), "=", it->value().ToString(), ";");
    return out;
  }

  std::string path;
  std::unique_ptr<KvStore> kv;
  std::unique_ptr<KvStateMachine> machine;
};

}  // namespace medvault::raft::testing
