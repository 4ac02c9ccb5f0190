#include "keyservice/core/audit_verify.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "keyservice/core/audit_log.h"

namespace medvault::keyservice {
namespace {

constexpr size_t kRecordKeyBytes = 16;

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Keeps the bad finding with the lowest position.
class Findings {
 public:
  explicit Findings(v1::VerifyAuditResponse* out) : out_(out) {}
  void Bad(uint64_t position, int64_t time_micros, absl::string_view problem) {
    if (!out_->ok() && out_->first_bad_position() <= position) return;
    out_->set_ok(false);
    out_->set_first_bad_position(position);
    out_->set_first_bad_time_micros(time_micros);
    out_->set_problem(std::string(problem));
  }

 private:
  v1::VerifyAuditResponse* const out_;
};

}  // namespace

absl::StatusOr<v1::VerifyAuditResponse> VerifyAuditLog(const KvStore& kv,
                                                       const AuditTrustedKeys& trusted) {
  v1::VerifyAuditResponse out;
  out.set_ok(true);
  Findings findings(&out);

  std::map<uint64_t, v1::SignedAuditHead> heads;
  {
    std::unique_ptr<rocksdb::Iterator> it = kv.NewIterator(kAuditHeadsColumnFamily);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const uint64_t position = FromBigEndian64(View(it->key()));
      v1::SignedAuditHead head;
      if (it->key().size() != 8 || !head.ParseFromString(std::string(View(it->value()))) ||
          head.position() != position) {
        findings.Bad(position, 0, "a signed head is corrupt");
        continue;
      }
      if (absl::Status s = trusted.Check(head); !s.ok()) {
        findings.Bad(position, 0, absl::StrCat("the signed head here is ", s.message()));
      }
      out.set_signed_heads_checked(out.signed_heads_checked() + 1);
      out.set_signed_position(position);
      heads[position] = std::move(head);
    }
    RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the signed audit heads"));
  }

  // The chain, in position order.
  std::string prev(kChainHashBytes, '\0');
  uint64_t expected = 1;
  int64_t chain_start_time = INT64_MAX;
  std::unique_ptr<rocksdb::Iterator> it = kv.NewIterator(kAuditChainColumnFamily);
  for (it->Seek("p"); it->Valid() && View(it->key())[0] == 'p'; it->Next()) {
    const uint64_t position = FromBigEndian64(View(it->key()).substr(1));
    absl::string_view link = View(it->value());
    if (it->key().size() != 9 || position < expected) {
      findings.Bad(expected, 0, "a chain link is corrupt");
      break;
    }
    if (position != expected) {
      findings.Bad(expected, 0, "missing (the chain skips this position)");
      break;
    }
    if (link.size() != kRecordKeyBytes + kChainHashBytes) {
      findings.Bad(position, 0, "its chain link is corrupt");
      break;
    }
    const std::string key(link.substr(0, kRecordKeyBytes));
    const int64_t key_time = static_cast<int64_t>(FromBigEndian64(key));
    absl::StatusOr<std::string> value = kv.Get(kAuditColumnFamily, key);
    if (absl::IsNotFound(value.status())) {
      findings.Bad(position, key_time, "missing (its record is gone)");
      break;
    }
    RETURN_IF_ERROR(value.status());
    v1::AuditRecord record;
    if (!record.ParseFromString(*value)) {
      findings.Bad(position, key_time, "altered (the record does not parse)");
      break;
    }
    if (record.chain_position() != position) {
      findings.Bad(position, key_time,
                   absl::StrCat("out of order (the record here belongs at position ",
                                record.chain_position(), ")"));
      break;
    }
    if (record.prev_hash() != prev) {
      // This record names another predecessor than the one the chain holds: the one before it
      // was changed (or this record's link was).
      findings.Bad(position - 1, 0, "altered (the next record does not link to it)");
      break;
    }
    if (record.time_micros() != key_time) {
      findings.Bad(position, key_time, "altered (its time does not match its key)");
      break;
    }
    const std::string hash = ChainHash(prev, position, key, *value);
    if (hash != link.substr(kRecordKeyBytes)) {
      findings.Bad(position, key_time, "altered (its hash does not match its chain link)");
      break;
    }
    auto signed_head = heads.find(position);
    if (signed_head != heads.end() && signed_head->second.hash() != hash) {
      findings.Bad(position, key_time,
                   "altered (the chain up to here does not match its signed head)");
      break;
    }
    if (position == 1) chain_start_time = key_time;
    prev = hash;
    ++expected;
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the audit chain"));
  const uint64_t last = expected - 1;
  out.set_records_checked(last);
  out.set_head_position(last);

  if (out.ok()) {
    ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(kv));
    if (head.position > last) {
      findings.Bad(last + 1, 0, "missing (the chain's head is further on)");
    } else if (head.position != last || head.hash != prev) {
      findings.Bad(head.position, 0, "the chain's head does not match its records");
    }
    if (!heads.empty() && heads.rbegin()->first > last) {
      findings.Bad(last + 1, 0, "missing (a signed head is further on)");
    }
  }

  // Every record is either in the chain or from before it: a record after the chain began that
  // carries no position was put there behind the key service's back.
  std::unique_ptr<rocksdb::Iterator> records = kv.NewIterator(kAuditColumnFamily);
  uint64_t unchained = 0;
  for (records->SeekToFirst(); records->Valid(); records->Next()) {
    const int64_t time = static_cast<int64_t>(FromBigEndian64(View(records->key())));
    v1::AuditRecord record;
    if (!record.ParseFromString(std::string(View(records->value())))) continue;  // walked above
    if (record.chain_position() != 0) continue;
    if (time >= chain_start_time) {
      findings.Bad(last + 1, time, "inserted (a record from after the chain began is not in it)");
    } else {
      ++unchained;
    }
  }
  RETURN_IF_ERROR(FromRocksStatus(records->status(), "reading the audit records"));
  out.set_unchained_records(unchained);
  return out;
}

absl::StatusOr<uint64_t> AuditChecker::SignHead() {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError("this key service holds no audit signing key");
  }
  return SignAuditHead(kv_, writer_, *signer_, clock_);
}

absl::StatusOr<v1::VerifyAuditResponse> AuditChecker::Verify(bool sign_head) {
  RETURN_IF_ERROR(writer_->Barrier());
  if (sign_head && signer_ != nullptr) RETURN_IF_ERROR(SignHead().status());
  return VerifyAuditLog(*kv_, trusted_);
}

}  // namespace medvault::keyservice
