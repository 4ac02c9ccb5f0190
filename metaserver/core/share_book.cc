#include "metaserver/core/share_book.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/store_access.h"

namespace medvault::metaserver {
namespace {

std::string LogKey(absl::string_view code_hash, uint64_t sequence) {
  std::string key(code_hash);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(sequence >> shift));
  return key;
}

absl::Status ValidateNew(const v1::StoredShare& share, int64_t now) {
  const v1::ShareInfo& info = share.info();
  if (share.code_hash().size() != kCodeHashBytes)
    return absl::InvalidArgumentError("share code hash must be 32 bytes");
  if (info.study_uids_size() == 0) return absl::InvalidArgumentError("share has no study");
  if (info.study_uids_size() > kMaxSharedStudies) {
    return absl::InvalidArgumentError(
        absl::StrCat("a share holds at most ", kMaxSharedStudies, " studies"));
  }
  for (const std::string& uid : info.study_uids()) {
    if (uid.empty() || uid.size() > 64 || uid.find('\0') != std::string::npos)
      return absl::InvalidArgumentError("share study UID is empty, too long or contains NUL");
  }
  if (share.pin_salt().empty() || share.pin_hash().empty())
    return absl::InvalidArgumentError("share has no PIN hash");
  if (info.expires_at_micros() <= now)
    return absl::InvalidArgumentError("share expiry is not in the future");
  if (info.label().size() > kMaxShareLabel) {
    return absl::InvalidArgumentError(
        absl::StrCat("share label is longer than ", kMaxShareLabel, " bytes"));
  }
  if (info.uses() != 0 || info.failed_attempts() != 0 || info.revoked_at_micros() != 0 ||
      info.locked_at_micros() != 0 || share.log_count() != 0) {
    return absl::InvalidArgumentError("a new share's counters must be zero");
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ShareStateName(ShareState state) {
  switch (state) {
    case ShareState::kActive:
      return "active";
    case ShareState::kExpired:
      return "expired";
    case ShareState::kRevoked:
      return "revoked";
    case ShareState::kUsedUp:
      return "used up";
    case ShareState::kLocked:
      return "locked";
  }
  return "unknown";
}

ShareState StateOf(const v1::ShareInfo& info, int64_t now_micros) {
  if (info.revoked_at_micros() != 0) return ShareState::kRevoked;
  if (now_micros >= info.expires_at_micros()) return ShareState::kExpired;
  if (info.locked_at_micros() != 0) return ShareState::kLocked;
  if (info.max_uses() != 0 && info.uses() >= info.max_uses()) return ShareState::kUsedUp;
  return ShareState::kActive;
}

std::string ShareIdOf(absl::string_view code_hash) { return ToHex(code_hash.substr(0, 8)); }

ShareBook::ShareBook(KvStore* kv, KvWriter* writer, Clock* clock, Catalog* catalog)
    : kv_(kv), writer_(writer), clock_(clock), catalog_(catalog) {}

v1::StoredShare ShareBook::WithState(v1::StoredShare share, int64_t now) const {
  share.mutable_info()->set_state(std::string(ShareStateName(StateOf(share.info(), now))));
  return share;
}

absl::Status ShareBook::Save(v1::StoredShare* share, const v1::ShareLogEntry* entry) {
  KvReader state(kv_);
  rocksdb::WriteBatch batch;
  if (entry != nullptr) {
    batch.Put(state.cf(kShareLogCf), LogKey(share->code_hash(), share->log_count()),
              Encode(*entry));
    share->set_log_count(share->log_count() + 1);
  }
  share->mutable_info()->clear_state();
  batch.Put(state.cf(kSharesCf), ToSlice(share->code_hash()), Encode(*share));
  return Annotate(writer_->Write(&batch), "writing share");
}

absl::StatusOr<v1::StoredShare> ShareBook::Create(v1::StoredShare share) {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMicros();
  RETURN_IF_ERROR(ValidateNew(share, now));
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(bool taken, state.Exists(kSharesCf, share.code_hash()));
  if (taken) return absl::AlreadyExistsError("a share with this code already exists");
  share.mutable_info()->set_share_id(ShareIdOf(share.code_hash()));
  share.mutable_info()->set_created_at_micros(now);
  if (catalog_ == nullptr) {
    RETURN_IF_ERROR(Save(&share, nullptr));
  } else {
    const std::vector<std::string> studies(share.info().study_uids().begin(),
                                           share.info().study_uids().end());
    RETURN_IF_ERROR(catalog_->WhileStudiesKept(studies, [&] { return Save(&share, nullptr); }));
  }
  return WithState(std::move(share), now);
}

absl::StatusOr<v1::StoredShare> ShareBook::Find(const v1::ShareRef& ref) const {
  KvReader state(kv_);
  v1::StoredShare share;
  if (!ref.code_hash().empty()) {
    absl::Status s = state.GetProto(kSharesCf, ref.code_hash(), &share);
    if (absl::IsNotFound(s)) return absl::NotFoundError("no such share");
    RETURN_IF_ERROR(s);
    return share;
  }
  if (ref.share_id().size() != 16)
    return absl::InvalidArgumentError("share id must be 16 hex digits");
  absl::StatusOr<std::string> prefix = FromHex(ref.share_id());
  if (!prefix.ok()) return absl::InvalidArgumentError("share id must be 16 hex digits");
  bool found = false;
  RETURN_IF_ERROR(ScanProtos<v1::StoredShare>(state, kSharesCf, *prefix,
                                              [&](absl::string_view, v1::StoredShare& first) {
                                                found = true;
                                                share = std::move(first);
                                                return false;
                                              }));
  if (!found) return absl::NotFoundError("no such share");
  return share;
}

absl::StatusOr<std::vector<v1::ShareInfo>> ShareBook::List() const {
  const int64_t now = clock_->NowMicros();
  KvReader state(kv_);
  std::vector<v1::ShareInfo> out;
  RETURN_IF_ERROR(ScanProtos<v1::StoredShare>(
      state, kSharesCf, "", [&](absl::string_view, v1::StoredShare& share) {
        out.push_back(WithState(std::move(share), now).info());
        return true;
      }));
  std::stable_sort(out.begin(), out.end(), [](const v1::ShareInfo& a, const v1::ShareInfo& b) {
    return a.created_at_micros() > b.created_at_micros();
  });
  return out;
}

absl::StatusOr<v1::StoredShare> ShareBook::Get(const v1::ShareRef& ref) const {
  ASSIGN_OR_RETURN(v1::StoredShare share, Find(ref));
  return WithState(std::move(share), clock_->NowMicros());
}

absl::StatusOr<v1::StoredShare> ShareBook::Act(
    const v1::ShareRef& ref, absl::string_view actor, absl::string_view action,
    const std::function<void(v1::ShareInfo&, int64_t now)>& change) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  ASSIGN_OR_RETURN(v1::StoredShare share, Find(ref));
  const int64_t now = clock_->NowMicros();
  change(*share.mutable_info(), now);
  v1::ShareLogEntry entry;
  entry.set_at_micros(now);
  entry.set_action(std::string(action));
  entry.set_result("ok");
  entry.set_actor(std::string(actor));
  RETURN_IF_ERROR(Save(&share, &entry));
  return WithState(std::move(share), now);
}

absl::StatusOr<v1::StoredShare> ShareBook::Revoke(const v1::ShareRef& ref,
                                                  absl::string_view actor) {
  return Act(ref, actor, "revoke", [](v1::ShareInfo& info, int64_t now) {
    if (info.revoked_at_micros() == 0) info.set_revoked_at_micros(now);
  });
}

absl::StatusOr<v1::StoredShare> ShareBook::Unlock(const v1::ShareRef& ref,
                                                  absl::string_view actor) {
  return Act(ref, actor, "unlock", [](v1::ShareInfo& info, int64_t) {
    info.set_failed_attempts(0);
    info.set_locked_at_micros(0);
  });
}

absl::StatusOr<AccessDecision> ShareBook::RecordAccess(absl::string_view code_hash, bool redeem,
                                                       bool pin_ok, v1::ShareLogEntry entry) {
  if (code_hash.size() != kCodeHashBytes)
    return absl::InvalidArgumentError("share code hash must be 32 bytes");
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  v1::ShareRef ref;
  ref.set_code_hash(std::string(code_hash));
  ASSIGN_OR_RETURN(v1::StoredShare share, Find(ref));
  const int64_t now = clock_->NowMicros();
  v1::ShareInfo& info = *share.mutable_info();
  const ShareState state = StateOf(info, now);
  entry.set_at_micros(now);
  AccessDecision decision;
  if (redeem) {
    entry.set_action("redeem");
    entry.clear_detail();
    if (state != ShareState::kActive) {
      entry.set_result("refused");
      entry.set_reason(std::string(ShareStateName(state)));
    } else if (!pin_ok) {
      info.set_failed_attempts(info.failed_attempts() + 1);
      if (info.failed_attempts() >= kMaxPinFailures) info.set_locked_at_micros(now);
      decision.attempts_remaining =
          kMaxPinFailures - std::min(info.failed_attempts(), kMaxPinFailures);
      entry.set_result("refused");
      entry.set_reason("wrong PIN");
    } else {
      info.set_uses(info.uses() + 1);
      entry.set_result("ok");
      entry.clear_reason();
      decision.allowed = true;
    }
  } else {
    if (entry.action().empty()) entry.set_action("read");
    if (state == ShareState::kRevoked || state == ShareState::kExpired) {
      entry.set_result("refused");
      entry.set_reason(std::string(ShareStateName(state)));
    } else {
      if (entry.result().empty()) entry.set_result("ok");
      decision.allowed = entry.result() == "ok";
    }
  }
  RETURN_IF_ERROR(Save(&share, &entry));
  decision.share = WithState(std::move(share), now).info();
  return decision;
}

absl::StatusOr<std::vector<v1::ShareLogEntry>> ShareBook::Log(const v1::ShareRef& ref) const {
  ASSIGN_OR_RETURN(v1::StoredShare share, Find(ref));
  KvReader state(kv_);
  std::vector<v1::ShareLogEntry> out;
  RETURN_IF_ERROR(ScanProtos<v1::ShareLogEntry>(state, kShareLogCf, share.code_hash(),
                                                [&](absl::string_view, v1::ShareLogEntry& entry) {
                                                  out.push_back(std::move(entry));
                                                  return true;
                                                }));
  return out;
}

}  // namespace medvault::metaserver
