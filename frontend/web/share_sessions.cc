#include "frontend/web/share_sessions.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace medvault::frontend::web {

std::string ShareSessions::Key(const std::string& cookie) { return Sha256(cookie); }

absl::StatusOr<std::string> ShareSessions::Open(const std::string& code_hash,
                                                const v1::ShareInfo& share, ShareSession* session) {
  ASSIGN_OR_RETURN(std::string random, RandomBytes(32));
  ASSIGN_OR_RETURN(std::string csrf, RandomBytes(32));
  const std::string cookie = absl::WebSafeBase64Escape(random);
  ShareSession s;
  s.code_hash = code_hash;
  s.share_id = share.share_id();
  s.study_uids.insert(share.study_uids().begin(), share.study_uids().end());
  s.download_allowed = share.download_allowed();
  s.csrf_token = absl::WebSafeBase64Escape(csrf);
  s.created_micros = s.last_used_micros = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= options_.max_sessions && !sessions_.empty()) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.last_used_micros < b.second.last_used_micros;
    });
    sessions_.erase(oldest);
  }
  sessions_[Key(cookie)] = s;
  *session = std::move(s);
  return cookie;
}

absl::StatusOr<ShareSession> ShareSessions::Touch(const std::string& cookie) {
  const int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(Key(cookie));
  if (it == sessions_.end()) return absl::UnauthenticatedError("no such session");
  ShareSession& s = it->second;
  if (now - s.last_used_micros >= options_.idle_seconds * 1'000'000 ||
      now - s.created_micros >= options_.absolute_seconds * 1'000'000) {
    sessions_.erase(it);
    return absl::UnauthenticatedError("the session timed out");
  }
  s.last_used_micros = now;
  return s;
}

void ShareSessions::Close(const std::string& cookie) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(Key(cookie));
}

size_t ShareSessions::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

}  // namespace medvault::frontend::web
