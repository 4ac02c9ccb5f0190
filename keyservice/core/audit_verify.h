// Checks the audit log against its hash chain and signed heads (keyservice/core/audit_chain.h,
// audit_signer.h): walks the chain from position 1, reads each record, and reports the first bad
// one by position and time (never its contents).
#pragma once

#include "absl/status/statusor.h"
#include "common/kv.h"
#include "keyservice/core/audit_signer.h"
#include "medvault/v1/keyservice.pb.h"

namespace medvault::keyservice {

// What it finds wrong is in the response (ok=false), not in the status; an error status means the
// database could not be read at all.
absl::StatusOr<v1::VerifyAuditResponse> VerifyAuditLog(const KvStore& kv,
                                                       const AuditTrustedKeys& trusted);

// The key service's signing and checking of its audit log. Thread-safe.
class AuditChecker {
 public:
  // `kv`, `writer`, `clock` and `signer` (may be null: heads are then not signed here) must
  // outlive the checker. `trusted` should include the signer's public key.
  AuditChecker(KvStore* kv, KvWriter* writer, Clock* clock, const AuditSigner* signer,
               AuditTrustedKeys trusted)
      : kv_(kv), writer_(writer), clock_(clock), signer_(signer), trusted_(std::move(trusted)) {}

  // Signs and stores the current head unless already signed; the position signed (0: nothing to
  // do). FAILED_PRECONDITION without a signing key; the writer's error (UNAVAILABLE on a
  // follower) when it cannot store it.
  absl::StatusOr<uint64_t> SignHead();
  // Makes the local state current (the writer's barrier), signs the head first when asked (and a
  // key is held), then verifies.
  absl::StatusOr<v1::VerifyAuditResponse> Verify(bool sign_head);

 private:
  KvStore* const kv_;
  KvWriter* const writer_;
  Clock* const clock_;
  const AuditSigner* const signer_;
  const AuditTrustedKeys trusted_;
};

}  // namespace medvault::keyservice
