// An in-memory stand-in for the metaserver's share rpcs. Test-only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/env.h"
#include "frontend/core/share_desk.h"

namespace medvault::frontend {

// Keeps shares in memory and decides accesses as the metaserver's ShareBook does (the rules that
// matter here: five wrong PINs lock, revoked/expired/locked/used-up refuse redemptions).
class FakeShareMeta : public ShareMetaClient {
 public:
  explicit FakeShareMeta(Clock* clock) : clock_(clock) {}
  absl::StatusOr<v1::StoredShare> CreateShare(const v1::StoredShare& share) override {
    v1::StoredShare s = share;
    s.mutable_info()->set_share_id(ToHex(share.code_hash().substr(0, 8)));
    shares_[share.code_hash()] = s;
    return s;
  }
  absl::StatusOr<std::vector<v1::ShareInfo>> ListShares() override {
    std::vector<v1::ShareInfo> out;
    for (auto& [hash, s] : shares_) out.push_back(s.info());
    return out;
  }
  absl::StatusOr<v1::StoredShare> GetShare(const v1::ShareRef& ref) override {
    ++gets;
    for (auto& [hash, s] : shares_) {
      if (hash == ref.code_hash() || s.info().share_id() == ref.share_id()) return s;
    }
    return absl::NotFoundError("no such share");
  }
  absl::StatusOr<v1::StoredShare> RevokeShare(const v1::ShareRef& ref,
                                              const std::string&) override {
    for (auto& [hash, s] : shares_) {
      if (hash == ref.code_hash() || s.info().share_id() == ref.share_id()) {
        s.mutable_info()->set_revoked_at_micros(clock_->NowMicros());
        return s;
      }
    }
    return absl::NotFoundError("no such share");
  }
  absl::StatusOr<v1::StoredShare> UnlockShare(const v1::ShareRef& ref,
                                              const std::string&) override {
    for (auto& [hash, s] : shares_) {
      if (hash == ref.code_hash() || s.info().share_id() == ref.share_id()) {
        s.mutable_info()->clear_locked_at_micros();
        s.mutable_info()->clear_failed_attempts();
        return s;
      }
    }
    return absl::NotFoundError("no such share");
  }
  absl::StatusOr<v1::RecordShareAccessResponse> RecordShareAccess(
      const v1::RecordShareAccessRequest& request) override {
    log.push_back(request);
    v1::StoredShare& s = shares_.at(request.code_hash());
    v1::ShareInfo& info = *s.mutable_info();
    v1::RecordShareAccessResponse r;
    const bool open = info.revoked_at_micros() == 0 && info.locked_at_micros() == 0 &&
                      clock_->NowMicros() < info.expires_at_micros() &&
                      (info.max_uses() == 0 || info.uses() < info.max_uses());
    if (open && request.redeem() && !request.pin_ok()) {
      info.set_failed_attempts(info.failed_attempts() + 1);
      if (info.failed_attempts() >= 5) info.set_locked_at_micros(clock_->NowMicros());
      r.set_attempts_remaining(5 - info.failed_attempts());
    } else if (open && request.redeem()) {
      info.set_uses(info.uses() + 1);
      r.set_allowed(true);
    }
    info.set_state(info.revoked_at_micros()                                 ? "revoked"
                   : clock_->NowMicros() >= info.expires_at_micros()        ? "expired"
                   : info.locked_at_micros() != 0                           ? "locked"
                   : info.max_uses() != 0 && info.uses() >= info.max_uses() ? "used up"
                                                                            : "active");
    *r.mutable_share() = info;
    return r;
  }
  absl::StatusOr<std::vector<v1::ShareLogEntry>> GetShareLog(const v1::ShareRef&) override {
    return std::vector<v1::ShareLogEntry>();
  }
  std::vector<v1::RecordShareAccessRequest> log;
  int gets = 0;

 private:
  Clock* const clock_;
  std::map<std::string, v1::StoredShare> shares_;
};

}  // namespace medvault::frontend
