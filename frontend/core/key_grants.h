// Short-lived study grants (issue 20): a viewer reading instance after instance of one study pays
// one audited key release for the whole study instead of one per instance. On a read of an
// instance of study S by caller C, the frontend releases the data keys of every instance of S in
// one KeyService.GetDataKeys call (one durable audit record naming C, the study's reference and
// every object) and holds them here for `ttl`, for reads of S by C only. Keys are wiped when the
// grant expires (Sweep), is dropped (Forget, eviction) or this object dies.
//
// Why a grant cannot defeat a delete: a granted key is used only by a read that looked its
// manifest up from the metaserver itself (a linearizable read, never the manifest cache) and found
// the object still there under the same object id. A delete removes the object from the index
// before it destroys the key and before it answers, so a read that begins after the delete was
// acknowledged fails its lookup with NOT_FOUND whatever grant any frontend holds
// (docs/architecture.md, "Study key grants"; docs/security.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/env.h"
#include "frontend/core/clients.h"
#include "medvault/v1/metaserver.pb.h"

namespace medvault::frontend {

struct KeyGrantOptions {
  // How long a grant serves reads after its release was asked for; zero disables grants.
  absl::Duration ttl = absl::ZeroDuration();
  // Grants held at once; a new one beyond it drops (and wipes) the one expiring first.
  size_t max_grants = 256;
  // Manifest lookups run at once while a grant is made (to learn the study's object ids).
  uint32_t lookups_in_parallel = 8;
  // How often a thread of its own drops expired grants (Sweep); zero: no thread (tests).
  absl::Duration sweep_interval = absl::ZeroDuration();
};

// Thread-safe.
class KeyGrants {
 public:
  // `keys`, `meta` and `clock` must outlive this.
  KeyGrants(KeyGrantOptions options, KeyClient* keys, MetaClient* meta, Clock* clock);
  // Stops the sweeping thread; every key held is wiped.
  ~KeyGrants();
  KeyGrants(const KeyGrants&) = delete;
  KeyGrants& operator=(const KeyGrants&) = delete;

  bool enabled() const { return options_.ttl > absl::ZeroDuration(); }

  // The data key of the object `meta` describes, for a read on behalf of `audit.on_behalf_of`:
  // from that caller's live grant for the study `meta` names, or from a grant made now (one
  // audited release of the keys of every instance of the study, or of the instance's series when
  // the study has more than kMaxKeysPerRelease; concurrent reads of the same caller and study
  // wait for one release). Nothing (the caller then releases the key alone) when grants are off,
  // the caller is anonymous, the grant's release failed (its audit record was not written, so no
  // key of it is ever served), the key was refused, or the grant does not cover the object (an
  // instance stored after the grant was made).
  // REQUIRES: `meta` was looked up from the metaserver by this read, never taken from a cache.
  std::optional<SecretBytes> Key(const v1::GetInstanceMetaResponse& meta, const KeyAudit& audit)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The key from `audit.on_behalf_of`'s live grant for `meta`'s study if one is made and covers
  // the object; never makes a grant, never waits. The same REQUIRES as Key.
  std::optional<SecretBytes> Find(const v1::GetInstanceMetaResponse& meta, const KeyAudit& audit)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Wipes every granted key of `object_ids` (their objects were deleted through this frontend).
  void Forget(const std::vector<std::string>& object_ids) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops and wipes every grant past its lifetime. Key calls it, and so does the sweeping thread
  // every `sweep_interval`, so an unused grant's keys do not outlive it by more than that.
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);

  // Grants held (made or being made).
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Keys served from a grant; grants made (audited releases); reads a grant could not serve.
  const std::atomic<uint64_t>& hits() const { return hits_; }
  const std::atomic<uint64_t>& releases() const { return releases_; }
  const std::atomic<uint64_t>& misses() const { return misses_; }

  // What the grant's audit record names as its purpose: "GetInstance (study grant <ref>)", the
  // reference being the first 16 hex digits of SHA-256 of the Study Instance UID (never the UID).
  static std::string Purpose(const std::string& study_uid);

 private:
  struct Grant {
    int64_t expires_micros = 0;
    bool ready = false;                                  // false while its release runs
    bool failed = false;                                 // its release failed: it serves nothing
    absl::flat_hash_map<std::string, SecretBytes> keys;  // object id -> key
  };
  using GrantId = std::pair<std::string, std::string>;  // caller, study UID

  // The object ids of the instances a grant for `meta`'s study covers: every instance of the
  // study (or of `meta`'s series when the study is too large), each looked up from the metaserver.
  absl::StatusOr<std::vector<std::string>> GrantedObjects(const v1::GetInstanceMetaResponse& meta);
  // Makes `grant` (REQUIRES: inserted, not ready): releases the keys and marks it ready.
  void Make(const std::shared_ptr<Grant>& grant, const GrantId& id,
            const v1::GetInstanceMetaResponse& meta, const KeyAudit& audit)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SweepLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const KeyGrantOptions options_;
  KeyClient* const keys_;
  MetaClient* const meta_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<GrantId, std::shared_ptr<Grant>> grants_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> releases_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace medvault::frontend
