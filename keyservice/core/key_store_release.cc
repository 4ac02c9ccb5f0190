// KeyStore::GetMany: the keys of a set (a study or series being retrieved) released under one
// audit write, each key checked on its own.
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "keyservice/core/key_store.h"

namespace medvault::keyservice {
namespace {

std::string ResultName(const absl::Status& s) { return absl::StatusCodeToString(s.code()); }

}  // namespace

absl::StatusOr<std::vector<absl::StatusOr<SecretBytes>>> KeyStore::GetMany(
    const std::vector<std::string>& object_ids, const AuditInfo& who) {
  if (object_ids.empty() || object_ids.size() > kMaxReleaseCount) {
    return absl::InvalidArgumentError(absl::StrCat("object_ids must hold 1..", kMaxReleaseCount,
                                                   " ids, got ", object_ids.size()));
  }
  for (size_t i = 0; i < object_ids.size(); ++i) {
    if (object_ids[i].size() != kObjectIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat("object_ids[", i, "] must be ", kObjectIdBytes,
                                                     " bytes, got ", object_ids[i].size()));
    }
  }
  // Planned from local state without a barrier, as Get() does: the commit of the records below
  // proves leadership and brings this replica up to date, and the keys are read again then. The
  // refusals are confirmed behind one barrier first (this replica may lag a recent generation).
  std::vector<absl::StatusOr<SecretBytes>> keys;
  keys.reserve(object_ids.size());
  uint32_t kek_version = 0;
  bool any_refused = false;
  for (const std::string& id : object_ids) {
    keys.push_back(GetImpl(id, /*barrier=*/false, &kek_version));
    any_refused |= !keys.back().ok();
  }
  if (any_refused) {
    RETURN_IF_ERROR(writer_->Barrier());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i].ok()) keys[i] = GetImpl(object_ids[i], /*barrier=*/false, &kek_version);
    }
  }

  // One record for the released set, one per refusal code; all in one replicated write.
  v1::AuditRecord released = audit_.NewRecord("release", who);
  released.set_result("OK");
  released.set_kek_version(kek_version);
  std::map<absl::StatusCode, v1::AuditRecord> refused;
  std::set<std::string> named;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!named.insert(object_ids[i]).second) continue;  // a duplicate is recorded once
    if (keys[i].ok()) {
      released.add_object_ids(object_ids[i]);
      continue;
    }
    auto [it, fresh] = refused.try_emplace(keys[i].status().code());
    if (fresh) {
      it->second = audit_.NewRecord("release", who);
      it->second.set_result(ResultName(keys[i].status()));
    }
    it->second.add_object_ids(object_ids[i]);
  }
  rocksdb::WriteBatch batch;
  if (released.object_ids_size() > 0) RETURN_IF_ERROR(audit_.Stage(released, &batch));
  for (const auto& [code, record] : refused) RETURN_IF_ERROR(audit_.Stage(record, &batch));
  absl::Status recorded = audit_.Commit(&batch);
  if (!recorded.ok()) {
    for (auto& key : keys) {
      if (key.ok()) key->Wipe();
    }
    released.set_result(
        absl::StrCat("UNAVAILABLE (audit write failed: ", ResultName(recorded), ")"));
    AuditLog::Log(released);
    return absl::UnavailableError(absl::StrCat(
        "the audit record of this release could not be written, so no key is released: ",
        recorded.message()));
  }
  AuditLog::Log(released);
  for (const auto& [code, record] : refused) AuditLog::Log(record);

  // Read-after-commit: a key destroyed (or its KEK retired) by an entry committed before the
  // records is refused after all, and one more record voids its recorded release.
  v1::AuditRecord voided = released;
  voided.clear_object_ids();
  absl::Status void_reason;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].ok()) continue;
    keys[i]->Wipe();
    uint32_t unused_version = 0;
    keys[i] = GetImpl(object_ids[i], /*barrier=*/false, &unused_version);
    if (!keys[i].ok()) {
      if (void_reason.ok()) void_reason = keys[i].status();
      voided.add_object_ids(object_ids[i]);
    }
  }
  if (voided.object_ids_size() > 0) VoidRelease(voided, void_reason);
  return keys;
}

}  // namespace medvault::keyservice
