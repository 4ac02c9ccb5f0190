#include "frontend/core/key_grants.h"

#include <algorithm>
#include <future>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace medvault::frontend {

KeyGrants::KeyGrants(KeyGrantOptions options, KeyClient* keys, MetaClient* meta, Clock* clock)
    : options_(options), keys_(keys), meta_(meta), clock_(clock) {
  if (!enabled() || options_.sweep_interval <= absl::ZeroDuration()) return;
  sweeper_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.sweep_interval)) {
      SweepLocked(clock_->NowMicros());
    }
  });
}

KeyGrants::~KeyGrants() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
}

std::string KeyGrants::Purpose(const std::string& study_uid) {
  return absl::StrCat("GetInstance (study grant ", ToHex(Sha256(study_uid)).substr(0, 16), ")");
}

std::optional<SecretBytes> KeyGrants::Key(const v1::GetInstanceMetaResponse& meta,
                                          const KeyAudit& audit) {
  const std::string& study = meta.info().tags().study_uid();
  if (!enabled() || audit.on_behalf_of.empty() || study.empty()) return std::nullopt;
  const GrantId id{audit.on_behalf_of, study};
  std::shared_ptr<Grant> grant;
  bool make = false;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMicros();
    SweepLocked(now);
    auto it = grants_.find(id);
    if (it != grants_.end()) {
      grant = it->second;
    } else {
      if (grants_.size() >= options_.max_grants) {
        // Make room: drop the made grant that expires first (its keys are wiped with it).
        auto first = grants_.end();
        for (auto g = grants_.begin(); g != grants_.end(); ++g) {
          if (g->second->ready && (first == grants_.end() ||
                                   g->second->expires_micros < first->second->expires_micros)) {
            first = g;
          }
        }
        if (first != grants_.end()) grants_.erase(first);
      }
      // Its life counts from before the release is asked for, so it ends no later than `ttl`
      // after the key service released the keys.
      grant = std::make_shared<Grant>();
      grant->expires_micros = now + absl::ToInt64Microseconds(options_.ttl);
      grants_.emplace(id, grant);
      make = true;
    }
  }
  if (make) Make(grant, id, meta, audit);
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&grant->ready));
  if (!grant->failed && clock_->NowMicros() < grant->expires_micros) {
    auto key = grant->keys.find(meta.manifest().object_id());
    if (key != grant->keys.end()) {
      if (!make) hits_ += 1;
      return SecretBytes(std::string(key->second.view()));
    }
  }
  misses_ += 1;
  return std::nullopt;
}

std::optional<SecretBytes> KeyGrants::Find(const v1::GetInstanceMetaResponse& meta,
                                           const KeyAudit& audit) {
  const std::string& study = meta.info().tags().study_uid();
  if (!enabled() || audit.on_behalf_of.empty() || study.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = grants_.find(GrantId{audit.on_behalf_of, study});
  if (it == grants_.end()) return std::nullopt;
  const Grant& grant = *it->second;
  if (!grant.ready || grant.failed || clock_->NowMicros() >= grant.expires_micros) {
    return std::nullopt;
  }
  auto key = grant.keys.find(meta.manifest().object_id());
  if (key == grant.keys.end()) return std::nullopt;
  hits_ += 1;
  return SecretBytes(std::string(key->second.view()));
}

void KeyGrants::Make(const std::shared_ptr<Grant>& grant, const GrantId& id,
                     const v1::GetInstanceMetaResponse& meta, const KeyAudit& audit) {
  absl::StatusOr<std::vector<std::string>> ids = GrantedObjects(meta);
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> released =
      absl::UnknownError("no grant");
  if (ids.ok()) {
    // One audited release: the key service returns the keys only once its record, naming the
    // caller, the study's reference and every object, is durable in a majority of its replicas.
    released =
        keys_->GetDataKeys(*ids, KeyAudit{audit.on_behalf_of, Purpose(id.second), audit.peer});
  }
  absl::MutexLock lock(&mu_);
  grant->ready = true;
  if (!released.ok() || released->size() != ids->size()) {
    grant->failed = true;
    auto it = grants_.find(id);
    if (it != grants_.end() && it->second == grant) grants_.erase(it);
    return;
  }
  releases_ += 1;
  for (size_t i = 0; i < ids->size(); ++i) {
    if ((*released)[i].ok()) grant->keys.emplace((*ids)[i], std::move(*(*released)[i]));
  }
}

absl::StatusOr<std::vector<std::string>> KeyGrants::GrantedObjects(
    const v1::GetInstanceMetaResponse& meta) {
  const v1::InstanceTags& tags = meta.info().tags();
  ASSIGN_OR_RETURN(v1::GetStudyMetaResponse study, meta_->GetStudy(tags.study_uid()));
  size_t total = 0;
  for (const v1::SeriesInfo& s : study.series()) total += s.instances_size();
  const bool whole_study = total <= kMaxKeysPerRelease;
  std::vector<std::string> uids;
  for (const v1::SeriesInfo& s : study.series()) {
    if (!whole_study && s.series_uid() != tags.series_uid()) continue;
    for (const v1::InstanceInfo& i : s.instances()) {
      if (i.tags().sop_instance_uid() != tags.sop_instance_uid()) {
        uids.push_back(i.tags().sop_instance_uid());
      }
    }
  }
  if (uids.size() + 1 > kMaxKeysPerRelease) {
    return absl::FailedPreconditionError("the series has too many instances for one grant");
  }
  // Each instance's object id from its manifest, several lookups at once; one deleted since the
  // listing is left out.
  std::vector<std::string> ids(uids.size());
  {
    std::atomic<size_t> next{0};
    std::vector<std::future<void>> workers;
    const size_t parallel =
        std::clamp<size_t>(options_.lookups_in_parallel, 1, std::max<size_t>(uids.size(), 1));
    for (size_t w = 0; w < parallel; ++w) {
      workers.push_back(std::async(std::launch::async, [&] {
        for (size_t i = next++; i < uids.size(); i = next++) {
          absl::StatusOr<v1::GetInstanceMetaResponse> found = meta_->GetInstance(uids[i]);
          if (found.ok()) ids[i] = found->manifest().object_id();
        }
      }));
    }
  }  // the futures wait for every lookup here
  ids.erase(std::remove(ids.begin(), ids.end(), std::string()), ids.end());
  ids.push_back(meta.manifest().object_id());  // the instance being read, as this read found it
  return ids;
}

void KeyGrants::Forget(const std::vector<std::string>& object_ids) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, grant] : grants_) {
    if (!grant->ready) continue;  // its keys are not in yet; a read still looks the object up
    for (const std::string& object : object_ids) grant->keys.erase(object);
  }
}

void KeyGrants::Sweep() {
  absl::MutexLock lock(&mu_);
  SweepLocked(clock_->NowMicros());
}

void KeyGrants::SweepLocked(int64_t now) {
  for (auto it = grants_.begin(); it != grants_.end();) {
    auto here = it++;
    if (here->second->ready && now >= here->second->expires_micros) grants_.erase(here);
  }
}

size_t KeyGrants::size() const {
  absl::MutexLock lock(&mu_);
  return grants_.size();
}

}  // namespace medvault::frontend
