#include "keyservice/core/audit_log.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::keyservice {
namespace {

constexpr size_t kRecordKeyBytes = 16;
constexpr size_t kObjectIdLength = 16;
constexpr uint32_t kDefaultQueryLimit = 100;

std::string BigEndian64(int64_t v) {
  std::string out(8, '\0');
  const uint64_t u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(u >> (56 - 8 * i));
  return out;
}

int64_t TimeOfKey(absl::string_view record_key) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(record_key[i]);
  return static_cast<int64_t>(u);
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view FromSlice(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace

AuditLog::AuditLog(KvStore* kv, KvWriter* writer, Clock* clock)
    : kv_(kv), writer_(writer), clock_(clock) {}

v1::AuditRecord AuditLog::NewRecord(absl::string_view op, const AuditInfo& who) {
  v1::AuditRecord record;
  {
    absl::MutexLock lock(&mu_);
    last_time_ = std::max(clock_->NowMicros(), last_time_ + 1);
    record.set_time_micros(last_time_);
  }
  record.set_op(std::string(op));
  record.set_caller(who.caller.empty() ? "unauthenticated" : who.caller);
  record.set_on_behalf_of(who.on_behalf_of);
  record.set_purpose(who.purpose);
  record.set_peer(who.peer);
  return record;
}

absl::Status AuditLog::Stage(const v1::AuditRecord& record, rocksdb::WriteBatch* batch) {
  ASSIGN_OR_RETURN(std::string suffix, RandomBytes(8));
  const std::string key = BigEndian64(record.time_micros()) + suffix;
  std::string value;
  if (!record.SerializeToString(&value)) return absl::InternalError("serializing an audit record");
  batch->Put(kv_->cf(kAuditColumnFamily), ToSlice(key), ToSlice(value));
  for (const std::string& id : record.object_ids()) {
    batch->Put(kv_->cf(kAuditByObjectColumnFamily), ToSlice(id + key), rocksdb::Slice());
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Append(const v1::AuditRecord& record) {
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(Stage(record, &batch));
  return Annotate(Commit(&batch), "writing an audit record");
}

absl::Status AuditLog::Commit(rocksdb::WriteBatch* batch) {
  absl::Status written = writer_->Write(batch);
  if (!written.ok() && on_write_failure_) on_write_failure_();
  return written;
}

void AuditLog::Log(const v1::AuditRecord& record) {
  const std::string ids =
      absl::StrJoin(record.object_ids(), ",",
                    [](std::string* out, const std::string& id) { out->append(ToHex(id)); });
  MV_LOG(INFO) << "audit op=" << record.op() << " caller=" << record.caller()
               << " on_behalf_of=" << (record.on_behalf_of().empty() ? "-" : record.on_behalf_of())
               << " purpose=" << (record.purpose().empty() ? "-" : record.purpose())
               << " peer=" << (record.peer().empty() ? "-" : record.peer())
               << " kek_version=" << record.kek_version() << " result=" << record.result()
               << " objects=" << record.object_ids_size() << " object_ids=" << ids;
}

absl::StatusOr<v1::QueryAuditResponse> AuditLog::Query(const v1::QueryAuditRequest& request) {
  const std::string& object = request.object_id();
  if (!object.empty() && object.size() != kObjectIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("object_id must be 16 bytes, got ", object.size()));
  }
  if (request.limit() > kMaxAuditQueryLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be at most ", kMaxAuditQueryLimit, ", got ", request.limit()));
  }
  if (!request.page_token().empty() && request.page_token().size() != kRecordKeyBytes) {
    return absl::InvalidArgumentError("page_token is not one this key service issued");
  }
  const int64_t since = request.since_micros();
  const int64_t until = request.until_micros() > 0 ? request.until_micros() : INT64_MAX;
  if (since < 0 || until <= since) {
    return absl::InvalidArgumentError("the time range is empty (until must be after since)");
  }
  const uint32_t limit = request.limit() > 0 ? request.limit() : kDefaultQueryLimit;
  RETURN_IF_ERROR(writer_->Barrier());

  // Both scans walk record keys in time order: the records themselves, or one object's index
  // entries (prefix || record key).
  const std::string prefix = object;
  std::unique_ptr<rocksdb::Iterator> it =
      kv_->NewIterator(object.empty() ? kAuditColumnFamily : kAuditByObjectColumnFamily);
  const std::string& token = request.page_token();
  const std::string start = prefix + (token.empty() ? BigEndian64(since) : token);
  v1::QueryAuditResponse response;
  std::string last_key;
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    absl::string_view key = FromSlice(it->key());
    if (key.size() != prefix.size() + kRecordKeyBytes || key.substr(0, prefix.size()) != prefix)
      break;
    absl::string_view record_key = key.substr(prefix.size());
    if (!token.empty() && record_key == token) continue;  // the last record of the previous page
    if (TimeOfKey(record_key) >= until) break;
    if (response.records_size() == static_cast<int>(limit)) {
      response.set_next_page_token(last_key);
      break;
    }
    std::string value;
    if (object.empty()) {
      value = std::string(FromSlice(it->value()));
    } else {
      absl::StatusOr<std::string> stored = kv_->Get(kAuditColumnFamily, record_key);
      if (!stored.ok()) {
        return absl::DataLossError(absl::StrCat("audit index names a record that cannot be read: ",
                                                stored.status().message()));
      }
      value = *std::move(stored);
    }
    if (!response.add_records()->ParseFromString(value)) {
      return absl::DataLossError("a stored audit record is corrupt");
    }
    last_key = std::string(record_key);
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the audit log"));
  return response;
}

}  // namespace medvault::keyservice
