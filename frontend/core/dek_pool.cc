#include "frontend/core/dek_pool.h"

#include "common/status_macros.h"

namespace medvault::frontend {

absl::StatusOr<DataKeyMaterial> DekPool::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_.empty()) {
    // Refilling under the lock makes concurrent puts share one batch instead of each asking.
    ASSIGN_OR_RETURN(
        std::vector<DataKeyMaterial> fresh,
        keys_->GenerateDataKeys(batch_, KeyAudit{"", "PutInstance (key pool refill)", ""}));
    if (fresh.empty()) return absl::InternalError("key service returned no keys");
    for (auto& k : fresh) pool_.push_back(std::move(k));
  }
  DataKeyMaterial k = std::move(pool_.front());
  pool_.pop_front();
  return k;
}

absl::Status DekPool::Drain() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& k : pool_) ids.push_back(k.object_id);
    pool_.clear();
  }
  if (ids.empty()) return absl::OkStatus();
  return keys_->DestroyDataKeys(ids, KeyAudit{"", "shutdown (unused pooled keys)", ""});
}

}  // namespace medvault::frontend
