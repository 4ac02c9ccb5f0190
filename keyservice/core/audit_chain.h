// The audit log's hash chain. Each record carries its position and the chain hash of the record
// before it; the chain hash after record n is
//   h(n) = SHA-256("medvault audit chain v1\0" || h(n-1) || BE64(n) || BE32(|key|) || key ||
//                  BE32(|value|) || value)
// over the record's key and its exact stored bytes (h(0) = 32 zero bytes). The chain is computed
// when a replica APPLIES a committed write, not when the record is staged: concurrent operations
// may reach the Raft log in another order than they staged their records, but every replica applies
// the log in the same order, so every replica computes the same chain (see docs/architecture.md).
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/kv.h"
#include "medvault/v1/raft.pb.h"

namespace medvault::keyservice {

// Links: key = "p" || BE64(position); value = record key (16 bytes) || chain hash after it (32).
// And key "head": value = BE64(position) || chain hash of the last record.
inline constexpr char kAuditChainColumnFamily[] = "audit_chain";
// Signed heads: key = BE64(position); value = v1::SignedAuditHead.
inline constexpr char kAuditHeadsColumnFamily[] = "audit_heads";
inline constexpr size_t kChainHashBytes = 32;

struct ChainHead {
  uint64_t position = 0;
  std::string hash = std::string(kChainHashBytes, '\0');
};

std::string ChainHash(absl::string_view prev, uint64_t position, absl::string_view record_key,
                      absl::string_view value);
std::string ChainLinkKey(uint64_t position);
std::string BigEndian64(uint64_t v);
uint64_t FromBigEndian64(absl::string_view eight);

// The committed head (position 0 when the chain is empty). DATA_LOSS when it does not parse.
absl::StatusOr<ChainHead> ReadChainHead(const KvStore& kv);

// Chains audit records as commands are applied (wired into the Raft state machine as its
// CommandRewriter). Thread-safe; Rewrite/Undo/Settle are called on the apply thread.
class AuditChain {
 public:
  // `kv` holds the audit and chain column families and must outlive the chain.
  explicit AuditChain(KvStore* kv) : kv_(kv) {}

  // Reads the committed head. Call before the first Rewrite().
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // Gives every PUT to the audit column family in `command` the next position: appends the
  // position and previous hash to the record's bytes (a serialized AuditRecord holding only
  // those two fields, which protobuf merges into the record), and adds the link and the new head.
  absl::Status Rewrite(v1::RaftKvBatch* command) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the last Rewrite() (its command was rejected).
  void Undo() ABSL_LOCKS_EXCLUDED(mu_);
  // The apply batch was written (or not): the pending head becomes the committed one (or is
  // dropped).
  void Settle(bool written) ABSL_LOCKS_EXCLUDED(mu_);

  ChainHead head() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  KvStore* const kv_;
  mutable absl::Mutex mu_;
  ChainHead committed_ ABSL_GUARDED_BY(mu_);
  ChainHead pending_ ABSL_GUARDED_BY(mu_);
  ChainHead before_last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::keyservice
