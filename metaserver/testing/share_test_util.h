// Shares as the metaserver's share book stores them, for its share and retention tests: the
// code's hash (never the code), a placeholder PIN salt and hash, one study. Test-only.
#pragma once

#include <cstdint>
#include <string>

#include "common/crypto.h"
#include "medvault/v1/metaserver.pb.h"
#include "medvault/v1/metaserver_store.pb.h"

namespace medvault::metaserver::testing {

// A share of `study` under `code`, ending at `expires_at_micros`; `max_uses` 0 for no limit.
inline v1::StoredShare StoredShareOf(const std::string& code, const std::string& study,
                                     int64_t expires_at_micros, uint32_t max_uses = 0) {
  v1::StoredShare share;
  share.set_code_hash(Sha256(code));
  share.set_pin_salt("salt");
  share.set_pin_hash("hash");
  share.mutable_info()->add_study_uids(study);
  share.mutable_info()->set_expires_at_micros(expires_at_micros);
  share.mutable_info()->set_max_uses(max_uses);
  return share;
}

// The reference the frontend sends for the share of `code`.
inline v1::ShareRef ShareRefOf(const std::string& code) {
  v1::ShareRef ref;
  ref.set_code_hash(Sha256(code));
  return ref;
}

}  // namespace medvault::metaserver::testing
