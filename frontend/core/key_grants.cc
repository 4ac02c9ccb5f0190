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
  absl::StatusOr<Manifests> manifests = GrantedObjects(meta);
  std::vector<std::string> ids;
  absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> released =
      absl::UnknownError("no grant");
  if (manifests.ok()) {
    for (const auto& m : *manifests) ids.push_back(m->manifest().object_id());
    // One audited release: the key service returns the keys only once its record, naming the
    // caller, the study's reference and every object, is durable in a majority of its replicas.
    released =
        keys_->GetDataKeys(ids, KeyAudit{audit.on_behalf_of, Purpose(id.second), audit.peer});
  }
  absl::MutexLock lock(&mu_);
  grant->ready = true;
  if (!released.ok() || released->size() != ids.size()) {
    grant->failed = true;
    auto it = grants_.find(id);
    if (it != grants_.end() && it->second == grant) grants_.erase(it);
    return;
  }
  releases_ += 1;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!(*released)[i].ok()) continue;
    grant->keys.emplace(ids[i], std::move(*(*released)[i]));
    const auto& m = (*manifests)[i];
    grant->manifests.emplace(m->info().tags().sop_instance_uid(), m);
  }
}

std::shared_ptr<const v1::GetInstanceMetaResponse> KeyGrants::FindManifest(
    const std::string& caller, const std::string& sop_uid) {
  if (!enabled() || caller.empty()) return nullptr;
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMicros();
  for (const auto& [id, grant] : grants_) {
    if (id.first != caller || !grant->ready || grant->failed || now >= grant->expires_micros) {
      continue;
    }
    auto it = grant->manifests.find(sop_uid);
    if (it != grant->manifests.end()) return it->second;
  }
  return nullptr;
}

absl::StatusOr<KeyGrants::Manifests> KeyGrants::GrantedObjects(
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
  // Each instance's manifest, several lookups at once; one deleted since the listing is left out.
  Manifests found(uids.size());
  {
    std::atomic<size_t> next{0};
    std::vector<std::future<void>> workers;
    const size_t parallel =
        std::clamp<size_t>(options_.lookups_in_parallel, 1, std::max<size_t>(uids.size(), 1));
    for (size_t w = 0; w < parallel; ++w) {
      workers.push_back(std::async(std::launch::async, [&] {
        for (size_t i = next++; i < uids.size(); i = next++) {
          absl::StatusOr<v1::GetInstanceMetaResponse> looked_up = meta_->GetInstance(uids[i]);
          if (looked_up.ok()) {
            found[i] = std::make_shared<const v1::GetInstanceMetaResponse>(std::move(*looked_up));
          }
        }
      }));
    }
  }  // the futures wait for every lookup here
  found.erase(std::remove(found.begin(), found.end(), nullptr), found.end());
  // The instance being read, as this read found it.
  found.push_back(std::make_shared<const v1::GetInstanceMetaResponse>(meta));
  return found;
}

void KeyGrants::Forget(const std::vector<std::string>& object_ids) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, grant] : grants_) {
    if (!grant->ready) continue;  // its keys are not in yet; a read still looks the object up
    for (const std::string& object : object_ids) grant->keys.erase(object);
    for (auto m = grant->manifests.begin(); m != grant->manifests.end();) {
      auto here = m++;
      if (!grant->keys.contains(here->second->manifest().object_id())) {
        grant->manifests.erase(here);
      }
    }
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
