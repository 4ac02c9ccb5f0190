// How the catalog reads and writes RocksDB: a KvReader gives a consistent snapshot view for one
// operation, and every mutation goes through a BatchWriter. The writer is an interface so tests can
// fail a write (KvStore::Write is virtual, but a KvStore can only be built by KvStore::Open) and so
// the Raft issue can replace "apply locally" with "replicate, then apply".
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kv.h"

namespace medvault::metaserver {

// The catalog's writer seam (see common/kv.h): direct to RocksDB, or through the Raft group.
using BatchWriter = KvWriter;
using KvBatchWriter = DirectKvWriter;

// A read-only view of the database as of construction (a RocksDB snapshot). Not thread-safe; one
// per operation. `kv` must outlive it.
//
// With an `overlay` (writes planned but not yet applied, e.g. the earlier commits of one group),
// Get/GetProto/Exists see the overlay's puts and deletes over the snapshot; ScanPrefix and
// NewIterator do not, so planners that scan must not run against an overlay. `overlay` must outlive
// the reader and must have been built with overwrite_key = true.
class KvReader {
 public:
  explicit KvReader(KvStore* kv, rocksdb::WriteBatchWithIndex* overlay = nullptr);
  ~KvReader();
  KvReader(const KvReader&) = delete;
  KvReader& operator=(const KvReader&) = delete;

  // NOT_FOUND when absent.
  absl::StatusOr<std::string> Get(const std::string& cf, absl::string_view key) const;
  // Parses the value into `*message`. NOT_FOUND when absent, DATA_LOSS when it does not parse.
  template <typename Message>
  absl::Status GetProto(const std::string& cf, absl::string_view key, Message* message) const {
    absl::StatusOr<std::string> value = Get(cf, key);
    if (!value.ok()) return value.status();
    if (!message->ParseFromString(*value)) return CorruptRecord(cf);
    return absl::OkStatus();
  }
  // OK(true/false) on presence; the error on a read failure.
  absl::StatusOr<bool> Exists(const std::string& cf, absl::string_view key) const;
  // Calls fn(key, value) for every key starting with `prefix`, in key order, until fn returns
  // false.
  absl::Status ScanPrefix(
      const std::string& cf, absl::string_view prefix,
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const;
  std::unique_ptr<rocksdb::Iterator> NewIterator(const std::string& cf) const;
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const { return kv_->cf(name); }

  // DATA_LOSS naming the column family (never the key: keys carry PHI).
  static absl::Status CorruptRecord(const std::string& cf);

 private:
  KvStore* const kv_;
  rocksdb::WriteBatchWithIndex* const overlay_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

// Reads a record; `found` tells whether it existed. Errors other than NOT_FOUND propagate.
template <typename Message>
absl::Status ReadOptional(const KvReader& state, const std::string& cf, absl::string_view key,
                          Message* message, bool* found) {
  absl::Status s = state.GetProto(cf, key, message);
  *found = s.ok();
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

// Calls fn(key, message) for every record of `cf` whose key starts with `prefix`, parsed as
// Message, in key order, until fn returns false. DATA_LOSS (KvReader::CorruptRecord) at the first
// record that does not parse; fn is not called for it or after it.
template <typename Message>
absl::Status ScanProtos(const KvReader& state, const std::string& cf, absl::string_view prefix,
                        const std::function<bool(absl::string_view key, Message& message)>& fn) {
  absl::Status parse;
  absl::Status scan =
      state.ScanPrefix(cf, prefix, [&](absl::string_view key, absl::string_view value) {
        Message message;
        if (!message.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          parse = KvReader::CorruptRecord(cf);
          return false;
        }
        return fn(key, message);
      });
  if (!scan.ok()) return scan;
  return parse;
}

// Serialises a message for a WriteBatch value.
template <typename Message>
std::string Encode(const Message& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace medvault::metaserver
