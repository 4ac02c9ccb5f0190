// Recipients' browser sessions: opened by a redemption (code + PIN), named by a random cookie
// (only its hash is kept), ended by logout, by an idle or an absolute timeout, or -- at their next
// request -- by the share's revocation or expiry (ShareWeb asks the metaserver on every request).
// In memory: a session lives on the frontend that opened it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "medvault/v1/common.pb.h"

namespace medvault::frontend::web {

struct SessionOptions {
  int64_t idle_seconds = 15 * 60;
  int64_t absolute_seconds = 2 * 3600;
  size_t max_sessions = 10000;
};

struct ShareSession {
  std::string code_hash;  // the share's key in the metaserver
  std::string share_id;
  std::set<std::string> study_uids;
  bool download_allowed = false;
  std::string csrf_token;  // required in X-CSRF-Token on state-changing requests
  int64_t created_micros = 0;
  int64_t last_used_micros = 0;
};

// Thread-safe.
class ShareSessions {
 public:
  ShareSessions(Clock* clock, SessionOptions options) : clock_(clock), options_(options) {}

  // A new session for the share; returns the cookie value (43 characters of base64url, 256 random
  // bits). When max_sessions are open, the least recently used one is closed first.
  absl::StatusOr<std::string> Open(const std::string& code_hash, const v1::ShareInfo& share,
                                   ShareSession* session);
  // The session the cookie names, its idle clock restarted. UNAUTHENTICATED (and the session
  // forgotten) when unknown, idle too long or too old.
  absl::StatusOr<ShareSession> Touch(const std::string& cookie);
  void Close(const std::string& cookie);
  size_t size() const;

 private:
  static std::string Key(const std::string& cookie);

  Clock* const clock_;
  const SessionOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, ShareSession> sessions_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of the cookie
};

}  // namespace medvault::frontend::web
