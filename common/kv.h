// A RocksDB database with named column families, opened the way medvault services need it:
// every write synchronous (WAL fsync'd before it returns), missing column families created.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace medvault {

// Maps a rocksdb::Status onto an absl::Status (context prepended).
absl::Status FromRocksStatus(const rocksdb::Status& s, absl::string_view context);

class KvStore {
 public:
  // Opens (creating if missing) the database at `path` with these column families (plus
  // "default"). Thread-safe once open.
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(
      const std::string& path, const std::vector<std::string>& column_families);
  virtual ~KvStore();

  // REQUIRES: `name` was passed to Open().
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;
  // Every column family, "default" included.
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }

  // NOT_FOUND when absent.
  absl::StatusOr<std::string> Get(const std::string& cf_name, absl::string_view key) const;
  // Applies the batch atomically and durably (sync). Virtual so tests can inject a failure.
  virtual absl::Status Write(rocksdb::WriteBatch* batch);
  // Applies the batch atomically without waiting for the disk: it is in the write-ahead log (and
  // survives a crash of the process) but a power loss may drop it, together with everything
  // written after it (the log recovers a prefix). The next Write() makes it durable.
  virtual absl::Status WriteBuffered(rocksdb::WriteBatch* batch);
  std::unique_ptr<rocksdb::Iterator> NewIterator(const std::string& cf_name) const;
  // Compacts a key range of one column family so deleted values leave the SST files.
  absl::Status CompactRange(const std::string& cf_name, absl::string_view begin,
                            absl::string_view end);

  rocksdb::DB* db() const { return db_.get(); }

 protected:
  KvStore() = default;

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cfs_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// How a service core writes: one batch, atomically and durably, or not at all. An interface so a
// replicated service can send the batch through its Raft group and tests can inject failures.
class KvWriter {
 public:
  virtual ~KvWriter() = default;
  virtual absl::Status Write(rocksdb::WriteBatch* batch) = 0;
  // Called before an operation reads the state it plans from (or answers a read with): returns once
  // that state includes every write acknowledged anywhere. A lone database is always current.
  virtual absl::Status Barrier() { return absl::OkStatus(); }
};

// The unreplicated writer: KvStore::Write (synchronous).
class DirectKvWriter : public KvWriter {
 public:
  explicit DirectKvWriter(KvStore* kv) : kv_(kv) {}
  absl::Status Write(rocksdb::WriteBatch* batch) override { return kv_->Write(batch); }

 private:
  KvStore* const kv_;
};

}  // namespace medvault
