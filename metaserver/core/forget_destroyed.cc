#include "metaserver/core/forget_destroyed.h"

#include <iterator>
#include <vector>

#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {

absl::StatusOr<ForgottenObjects> ForgetDestroyedObjects(KvStore* kv,
                                                        const std::set<std::string>& destroyed,
                                                        int64_t now_micros) {
  ForgottenObjects out;
  if (destroyed.empty()) return out;
  std::vector<std::string> sops;
  std::set<std::string> studies;
  {
    KvReader state(kv);
    absl::Status parse = absl::OkStatus();
    RETURN_IF_ERROR(
        state.ScanPrefix(kInstancesCf, "", [&](absl::string_view key, absl::string_view value) {
          v1::StoredInstance instance;
          if (!instance.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            parse = KvReader::CorruptRecord(kInstancesCf);
            return false;
          }
          if (destroyed.count(instance.object_id()) > 0) {
            sops.emplace_back(key);
            studies.insert(instance.info().tags().study_uid());
          }
          return true;
        }));
    RETURN_IF_ERROR(parse);
    for (auto it = studies.begin(); it != studies.end();) {
      v1::StoredRetention retention;
      bool found = false;
      RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, *it, &retention, &found));
      it = found && retention.info().hold() ? std::next(it) : studies.erase(it);
    }
  }
  Catalog catalog(kv);
  for (const std::string& held_study : studies) {
    RETURN_IF_ERROR(catalog.SetLegalHold(held_study, false, "restore", now_micros).status());
  }
  for (const std::string& sop : sops) {
    absl::StatusOr<DeleteResult> deleted = catalog.DeleteInstance(sop, now_micros);
    if (!deleted.ok()) return deleted.status();
    out.instances += deleted->instances_deleted;
  }
  // Every tombstone of a destroyed key, whether written just now or already in the backup.
  std::vector<std::string> tombstoned;
  {
    KvReader state(kv);
    for (const std::string& id : destroyed) {
      ASSIGN_OR_RETURN(bool present, state.Exists(kTombstonesCf, id));
      if (present) tombstoned.push_back(id);
    }
  }
  RETURN_IF_ERROR(catalog.ConfirmKeysDestroyed(tombstoned));
  out.tombstones = tombstoned.size();
  return out;
}

}  // namespace medvault::metaserver
