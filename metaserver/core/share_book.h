// Shares as replicated state: each share (studies, expiry, use limit, PIN hash, counters) and its
// access log live in the metaserver's RocksDB (CFs "shares" and "share_log", catalog_keys.h) and
// every change is one WriteBatch through the catalog's writer, so shares are replicated by the
// Raft group exactly as the index is. The metaserver never sees an access code or a PIN: the
// frontend sends the code's SHA-256 and the PIN's scrypt hash, and tells RecordAccess whether a
// PIN matched. Deciding (refuse, count a wrong PIN, lock, count a use) and logging happen here,
// atomically, so concurrent redemptions through several frontends cannot overrun the limits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "common/kv.h"
#include "medvault/v1/common.pb.h"
#include "medvault/v1/metaserver.pb.h"
#include "medvault/v1/metaserver_store.pb.h"

namespace medvault::metaserver {

class Catalog;

// Wrong PINs that lock a share.
inline constexpr uint32_t kMaxPinFailures = 5;
// Bounds on what a share holds.
inline constexpr int kMaxSharedStudies = 100;
inline constexpr size_t kMaxShareLabel = 200;
inline constexpr size_t kCodeHashBytes = 32;

enum class ShareState { kActive, kExpired, kRevoked, kUsedUp, kLocked };
// "active", "expired", "revoked", "used up", "locked".
absl::string_view ShareStateName(ShareState state);
// The state of `info` at `now_micros`; revoked wins over expired, over locked, over used up.
ShareState StateOf(const v1::ShareInfo& info, int64_t now_micros);
// 16 hex digits: the first 8 bytes of the code hash.
std::string ShareIdOf(absl::string_view code_hash);

struct AccessDecision {
  bool allowed = false;
  uint32_t attempts_remaining = 0;
  v1::ShareInfo share;  // after this access, with its state
};

// Thread-safe: mutations are serialised by a mutex (each: barrier, read, plan, one write).
class ShareBook {
 public:
  // `kv` must have the CFs of MetaserverColumnFamilies(); `writer` (the catalog's) and `clock`
  // must outlive the book, and so must `catalog` (the one over the same store) when given: then a
  // share is created only through Catalog::WhileStudiesKept, so a retention deletion never races
  // a new share of its study.
  ShareBook(KvStore* kv, KvWriter* writer, Clock* clock, Catalog* catalog = nullptr);

  // Stores a new share. INVALID_ARGUMENT for a malformed one (code hash not 32 bytes, no or too
  // many studies, a study UID empty or with NUL, no PIN hash, expiry not after now, label too
  // long, counters set); ALREADY_EXISTS when the code hash is taken. With a catalog, NOT_FOUND
  // when a study is not stored and FAILED_PRECONDITION when one is being deleted by its
  // retention rule. Returns it with its state.
  absl::StatusOr<v1::StoredShare> Create(v1::StoredShare share) ABSL_LOCKS_EXCLUDED(mu_);
  // Every share's public part, newest first.
  absl::StatusOr<std::vector<v1::ShareInfo>> List() const;
  // NOT_FOUND when absent; INVALID_ARGUMENT for a reference naming nothing.
  absl::StatusOr<v1::StoredShare> Get(const v1::ShareRef& ref) const;
  // Revoked shares stay revoked (revoking again is OK and logged once more).
  absl::StatusOr<v1::StoredShare> Revoke(const v1::ShareRef& ref, absl::string_view actor)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Clears the wrong-PIN count and the lock.
  absl::StatusOr<v1::StoredShare> Unlock(const v1::ShareRef& ref, absl::string_view actor)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Decides a redemption (`redeem`; `pin_ok` says whether the PIN matched) or an access of an open
  // session, and logs it. A redemption is refused unless the share is active; a wrong PIN counts
  // and the kMaxPinFailures-th locks. An access is refused when the share is revoked or expired
  // (a used-up or locked share keeps serving the sessions already open); otherwise the entry's
  // own result stands. NOT_FOUND (nothing logged) when no share has this code hash.
  absl::StatusOr<AccessDecision> RecordAccess(absl::string_view code_hash, bool redeem, bool pin_ok,
                                              v1::ShareLogEntry entry) ABSL_LOCKS_EXCLUDED(mu_);
  // The share's log, oldest first.
  absl::StatusOr<std::vector<v1::ShareLogEntry>> Log(const v1::ShareRef& ref) const;

 private:
  // Reads the share `ref` names (code hash into *code_hash).
  absl::StatusOr<v1::StoredShare> Find(const v1::ShareRef& ref) const;
  // Writes `share` (with its state cleared) and, when `entry` is set, its next log entry.
  absl::Status Save(v1::StoredShare* share, const v1::ShareLogEntry* entry);
  v1::StoredShare WithState(v1::StoredShare share, int64_t now) const;
  // Revoke and Unlock: applies `change` to the share and logs `action` by `actor`.
  absl::StatusOr<v1::StoredShare> Act(
      const v1::ShareRef& ref, absl::string_view actor, absl::string_view action,
      const std::function<void(v1::ShareInfo&, int64_t now)>& change) ABSL_LOCKS_EXCLUDED(mu_);

  KvStore* const kv_;
  KvWriter* const writer_;
  Clock* const clock_;
  Catalog* const catalog_;
  absl::Mutex mu_;
};

}  // namespace medvault::metaserver
