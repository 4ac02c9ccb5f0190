// Shares as the frontend serves them: creating one (fresh code and PIN, their hashes to the
// metaserver), naming one by code or share id, and redeeming one (the recipient's door, slice of
// the HTTPS page): the PIN is checked here against the stored scrypt hash, the metaserver decides
// and logs atomically, and failures are rate-limited per source address. Every refusal a recipient
// sees for a share that is expired, revoked, used up or locked, or for a code that opens nothing,
// is the same ShareRefusal(); only the share's log knows which it was.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "frontend/core/clients.h"
#include "frontend/core/share_codes.h"
#include "medvault/v1/image_store.pb.h"
#include "medvault/v1/metaserver.pb.h"

namespace medvault::frontend {

// The role of a recipient's browser session (frontend/web/share_web.h) as the Authorizer sees it;
// no certificate carries it.
inline constexpr char kShareSessionRole[] = "share-session";

// The metaserver's share rpcs (MetaService.*Share*), as the frontend core needs them.
class ShareMetaClient {
 public:
  virtual ~ShareMetaClient() = default;
  virtual absl::StatusOr<v1::StoredShare> CreateShare(const v1::StoredShare& share) = 0;
  virtual absl::StatusOr<std::vector<v1::ShareInfo>> ListShares() = 0;
  virtual absl::StatusOr<v1::StoredShare> GetShare(const v1::ShareRef& ref) = 0;
  virtual absl::StatusOr<v1::StoredShare> RevokeShare(const v1::ShareRef& ref,
                                                      const std::string& actor) = 0;
  virtual absl::StatusOr<v1::StoredShare> UnlockShare(const v1::ShareRef& ref,
                                                      const std::string& actor) = 0;
  virtual absl::StatusOr<v1::RecordShareAccessResponse> RecordShareAccess(
      const v1::RecordShareAccessRequest& request) = 0;
  virtual absl::StatusOr<std::vector<v1::ShareLogEntry>> GetShareLog(const v1::ShareRef& ref) = 0;
};

struct ShareOptions {
  ScryptParams scrypt;
  int64_t default_expiry_seconds = 30 * 86400;
  int64_t max_expiry_seconds = 365 * 86400;
  int64_t min_expiry_seconds = 60;
  // Failed redemptions one source address may make per window before it is refused outright.
  uint32_t max_failures_per_address = 10;
  int64_t failure_window_seconds = 15 * 60;
  // Addresses tracked at once (older windows are dropped first).
  size_t max_tracked_addresses = 100000;
};

// Writes one share event into the key service's tamper-evident audit (op=share;
// KeyService.RecordShareEvent): for whom ("share-session/<share id>" or the acting client), what
// happened ("ShareRedeem (wrong PIN, 4 attempts left)", "ShareRevoke share/<id>"), the recipient's
// address or "", and the outcome. Never given a PIN or an access code.
using ShareAuditFn =
    std::function<absl::Status(const std::string& on_behalf_of, const std::string& purpose,
                               const std::string& peer, absl::StatusCode result)>;

struct CreatedShare {
  std::string access_code;  // shown once
  std::string pin;          // shown once
  v1::ShareInfo info;
};

struct Redemption {
  std::string code_hash;  // names the share for the session
  v1::ShareInfo share;
};

// The one answer a recipient gets for a code that opens nothing now (PERMISSION_DENIED).
absl::Status ShareRefusal();
// A wrong PIN on a share that is otherwise open: PERMISSION_DENIED saying how many attempts remain.
absl::Status WrongPin(uint32_t attempts_remaining);
// Too many failures from one address: RESOURCE_EXHAUSTED.
absl::Status TooManyAttempts();

// Thread-safe.
class ShareDesk {
 public:
  // Everything must outlive the desk; `studies` checks that shared studies exist. With `audit`,
  // every redemption (opened, wrong PIN, refused; not those refused by the per-address limit,
  // which must stay cheap), revocation and unlock is also written to the key service's audit;
  // a redemption opens nothing unless its record was written.
  ShareDesk(ShareMetaClient* meta, MetaClient* studies, Clock* clock, ShareOptions options,
            ShareAuditFn audit = nullptr);

  // INVALID_ARGUMENT for no study, too many, an expiry out of range or a bad label; NOT_FOUND when
  // a study is not stored (the message never names it).
  absl::StatusOr<CreatedShare> Create(const v1::CreateShareRequest& request,
                                      const std::string& creator);
  absl::StatusOr<std::vector<v1::ShareInfo>> List();
  // `share` is an access code or a share id (16 hex digits).
  absl::StatusOr<v1::ShareInfo> Show(const std::string& share);
  absl::StatusOr<v1::ShareInfo> Revoke(const std::string& share, const std::string& actor);
  absl::StatusOr<v1::ShareInfo> Unlock(const std::string& share, const std::string& actor);
  absl::StatusOr<std::vector<v1::ShareLogEntry>> Log(const std::string& share);

  // The recipient's redemption from `peer` ("ipv4:1.2.3.4:5678" or "1.2.3.4:5678"): the share when
  // code and PIN open it (a use is counted); otherwise ShareRefusal(), WrongPin(n) or
  // TooManyAttempts(); UNAVAILABLE when the metaserver cannot be reached.
  absl::StatusOr<Redemption> Redeem(absl::string_view code, absl::string_view pin,
                                    const std::string& peer);

  // Logs one access of an open session (`entry.detail` what was read, `entry.result` "refused"
  // with a reason when the frontend refused it) and says whether the share still allows it:
  // false once revoked or expired. The metaserver's errors pass through.
  absl::StatusOr<bool> RecordRead(const std::string& code_hash, v1::ShareLogEntry entry);

  // The host part of a peer address (no port, no "ipv4:"/"ipv6:" prefix): the rate-limit key.
  static std::string PeerHost(absl::string_view peer);

 private:
  absl::StatusOr<v1::ShareRef> RefOf(const std::string& share) const;
  bool Throttled(const std::string& host) ABSL_LOCKS_EXCLUDED(mu_);
  void CountFailure(const std::string& host) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes a share event to the audit (when there is one); errors are logged (no detail) and
  // returned.
  absl::Status Audit(const std::string& on_behalf_of, const std::string& purpose,
                     const std::string& peer, absl::StatusCode result);

  ShareMetaClient* const meta_;
  MetaClient* const studies_;
  Clock* const clock_;
  const ShareOptions options_;
  const ShareAuditFn audit_;
  std::string dummy_salt_;  // a PIN hash is computed for unknown codes too (same timing)

  struct Window {
    int64_t start_micros = 0;
    uint32_t failures = 0;
  };
  absl::Mutex mu_;
  std::map<std::string, Window> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medvault::frontend
