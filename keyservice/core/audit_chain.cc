#include "keyservice/core/audit_chain.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "keyservice/core/audit_log.h"
#include "medvault/v1/keyservice.pb.h"

namespace medvault::keyservice {
namespace {

constexpr char kDomain[] = "medvault audit chain v1";  // sizeof includes the terminating NUL
constexpr char kHeadKey[] = "head";

std::string BigEndian32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (24 - 8 * i));
  return out;
}

}  // namespace

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
  return out;
}

uint64_t FromBigEndian64(absl::string_view eight) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8 && i < eight.size(); ++i)
    u = (u << 8) | static_cast<unsigned char>(eight[i]);
  return u;
}

std::string ChainHash(absl::string_view prev, uint64_t position, absl::string_view record_key,
                      absl::string_view value) {
  Sha256Hasher h;
  h.Update(absl::string_view(kDomain, sizeof(kDomain)));
  h.Update(prev);
  h.Update(BigEndian64(position));
  h.Update(BigEndian32(static_cast<uint32_t>(record_key.size())));
  h.Update(record_key);
  h.Update(BigEndian32(static_cast<uint32_t>(value.size())));
  h.Update(value);
  return h.Finish();
}

std::string ChainLinkKey(uint64_t position) { return "p" + BigEndian64(position); }

absl::StatusOr<ChainHead> ReadChainHead(const KvStore& kv) {
  absl::StatusOr<std::string> stored = kv.Get(kAuditChainColumnFamily, kHeadKey);
  if (absl::IsNotFound(stored.status())) return ChainHead();
  if (!stored.ok()) return stored.status();
  if (stored->size() != 8 + kChainHashBytes) {
    return absl::DataLossError("the audit chain's head does not parse");
  }
  ChainHead head;
  head.position = FromBigEndian64(*stored);
  head.hash = stored->substr(8);
  return head;
}

absl::Status AuditChain::Load() {
  absl::StatusOr<ChainHead> head = ReadChainHead(*kv_);
  if (!head.ok()) return head.status();
  absl::MutexLock lock(&mu_);
  committed_ = pending_ = before_last_ = *head;
  return absl::OkStatus();
}

absl::Status AuditChain::Rewrite(v1::RaftKvBatch* command) {
  absl::MutexLock lock(&mu_);
  before_last_ = pending_;
  ChainHead head = pending_;
  const int n = command->writes_size();  // the links added below are not records
  for (int i = 0; i < n; ++i) {
    v1::RaftKvWrite* w = command->mutable_writes(i);
    if (w->cf() != kAuditColumnFamily) continue;
    if (w->op() != v1::RaftKvWrite::PUT) {
      return absl::InvalidArgumentError("audit records are append-only (delete refused)");
    }
    v1::AuditRecord link;
    link.set_chain_position(head.position + 1);
    link.set_prev_hash(head.hash);
    w->mutable_value()->append(link.SerializeAsString());
    head.hash = ChainHash(head.hash, head.position + 1, w->key(), w->value());
    ++head.position;
    v1::RaftKvWrite* put = command->add_writes();
    put->set_op(v1::RaftKvWrite::PUT);
    put->set_cf(kAuditChainColumnFamily);
    put->set_key(ChainLinkKey(head.position));
    put->set_value(w->key() + head.hash);
  }
  if (head.position != pending_.position) {
    v1::RaftKvWrite* put = command->add_writes();
    put->set_op(v1::RaftKvWrite::PUT);
    put->set_cf(kAuditChainColumnFamily);
    put->set_key(kHeadKey);
    put->set_value(BigEndian64(head.position) + head.hash);
  }
  pending_ = head;
  return absl::OkStatus();
}

void AuditChain::Undo() {
  absl::MutexLock lock(&mu_);
  pending_ = before_last_;
}

void AuditChain::Settle(bool written) {
  absl::MutexLock lock(&mu_);
  if (written) {
    committed_ = pending_;
  } else {
    pending_ = committed_;
  }
  before_last_ = pending_;
}

ChainHead AuditChain::head() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

}  // namespace medvault::keyservice
