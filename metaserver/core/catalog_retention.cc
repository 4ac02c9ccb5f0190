// Retention rules and legal holds (CF "retention", one StoredRetention per study): setting them,
// deciding when a study is due, and the retention task's deletion, which is DeleteStudy's plan
// with the record kept (marked deleting) until the study's keys are destroyed.
#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"
#include "metaserver/core/catalog_mutations.h"
#include "metaserver/core/share_book.h"

namespace medvault::metaserver {
namespace {

constexpr int64_t kMicrosPerDay = 86400LL * 1'000'000;

// Whether a study has been shared and whether any of its shares is still open (not expired or
// revoked: a used-up or locked share may still serve the sessions it opened, or be unlocked).
struct ShareEnds {
  bool shared = false;
  bool open = false;
};

// ShareEnds of every shared study (one scan of the shares), or of `only` when it is not empty.
absl::StatusOr<std::map<std::string, ShareEnds>> ShareEndsByStudy(const KvReader& state,
                                                                  int64_t now,
                                                                  absl::string_view only = {}) {
  std::map<std::string, ShareEnds> out;
  RETURN_IF_ERROR(ScanProtos<v1::StoredShare>(
      state, kSharesCf, "", [&](absl::string_view, v1::StoredShare& share) {
        const ShareState s = StateOf(share.info(), now);
        const bool open = s != ShareState::kExpired && s != ShareState::kRevoked;
        for (const std::string& uid : share.info().study_uids()) {
          if (!only.empty() && uid != only) continue;
          ShareEnds& ends = out[uid];
          ends.shared = true;
          ends.open = ends.open || open;
        }
        return true;
      }));
  return out;
}

// Why the study is due at `now` ("" when it is not). `ingested_at` is 0 for a study not stored.
std::string DueReason(const v1::StoredRetention& record, int64_t ingested_at,
                      const std::map<std::string, ShareEnds>& shares, absl::string_view study_uid,
                      int64_t now) {
  if (ingested_at == 0) return "";
  const v1::RetentionRule& rule = record.info().rule();
  if (rule.days_after_ingest() > 0 &&
      now >= ingested_at + static_cast<int64_t>(rule.days_after_ingest()) * kMicrosPerDay) {
    return absl::StrCat(rule.days_after_ingest(), " days after ingest");
  }
  if (rule.after_last_share()) {
    auto it = shares.find(std::string(study_uid));
    if (it != shares.end() && it->second.shared && !it->second.open) return "last share ended";
  }
  return "";
}

absl::Status ValidateRule(const v1::RetentionRule& rule) {
  const bool days = rule.days_after_ingest() > 0;
  if (days == rule.after_last_share())
    return absl::InvalidArgumentError("a retention rule needs exactly one of days or last share");
  if (rule.days_after_ingest() > kMaxRetentionDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention days must be 1..", kMaxRetentionDays));
  }
  return absl::OkStatus();
}

// The record's public part with due_at and state filled in.
v1::RetentionInfo Describe(const v1::StoredRetention& record, int64_t ingested_at) {
  v1::RetentionInfo info = record.info();
  const v1::RetentionRule& rule = info.rule();
  if (rule.days_after_ingest() > 0 && ingested_at > 0) {
    info.set_due_at_micros(ingested_at +
                           static_cast<int64_t>(rule.days_after_ingest()) * kMicrosPerDay);
  }
  if (record.deleting_since_micros() != 0) {
    info.set_state("deleting");
  } else if (info.hold()) {
    info.set_state("held");
  } else if (rule.days_after_ingest() > 0) {
    info.set_state("scheduled");
  } else if (rule.after_last_share()) {
    info.set_state("after last share");
  }
  return info;
}

bool Empty(const v1::StoredRetention& record) {
  const v1::RetentionInfo& info = record.info();
  return !info.hold() && info.rule().days_after_ingest() == 0 && !info.rule().after_last_share() &&
         record.deleting_since_micros() == 0;
}

// The study's ingest time, 0 when it is not stored.
absl::StatusOr<int64_t> IngestedAt(const KvReader& state, absl::string_view study_uid) {
  v1::StoredStudy study;
  bool found = false;
  RETURN_IF_ERROR(ReadOptional(state, kStudiesCf, study_uid, &study, &found));
  if (!found) return 0;
  // Studies stored before created_at was kept count as ingested at the epoch's first microsecond.
  return std::max<int64_t>(study.created_at_micros(), 1);
}

}  // namespace

absl::Status AttachRetention(const KvReader& state, const v1::StoredStudy& study,
                             v1::StudySummary* summary) {
  v1::StoredRetention record;
  bool found = false;
  RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, summary->study_uid(), &record, &found));
  if (found) {
    *summary->mutable_retention() =
        Describe(record, std::max<int64_t>(study.created_at_micros(), 1));
  }
  return absl::OkStatus();
}

absl::StatusOr<RetentionAnswer> Catalog::SetRetention(absl::string_view study_uid,
                                                      const v1::RetentionRule& rule, bool clear,
                                                      absl::string_view actor, int64_t now_micros) {
  RETURN_IF_ERROR(CheckUid(study_uid, "study UID"));
  if (!clear) RETURN_IF_ERROR(ValidateRule(rule));
  return UpdateRetention(study_uid, [&](v1::StoredRetention& record) {
    v1::RetentionInfo& info = *record.mutable_info();
    if (clear) {
      info.clear_rule();
      info.clear_rule_set_by();
      info.clear_rule_set_at_micros();
    } else {
      *info.mutable_rule() = rule;
      info.set_rule_set_by(std::string(actor));
      info.set_rule_set_at_micros(now_micros);
    }
  });
}

absl::StatusOr<RetentionAnswer> Catalog::SetLegalHold(absl::string_view study_uid, bool hold,
                                                      absl::string_view actor, int64_t now_micros) {
  RETURN_IF_ERROR(CheckUid(study_uid, "study UID"));
  return UpdateRetention(study_uid, [&](v1::StoredRetention& record) {
    v1::RetentionInfo& info = *record.mutable_info();
    info.set_hold(hold);
    info.set_hold_set_by(std::string(actor));
    info.set_hold_set_at_micros(now_micros);
    if (!hold) {
      info.clear_hold_set_by();
      info.clear_hold_set_at_micros();
    }
  });
}

absl::StatusOr<RetentionAnswer> Catalog::UpdateRetention(
    absl::string_view study_uid, const std::function<void(v1::StoredRetention&)>& change) {
  RetentionAnswer answer;
  RETURN_IF_ERROR(WithRetentionRecord(
      study_uid,
      [&](const KvReader& state, v1::StoredRetention& record, bool found) -> absl::Status {
        if (record.deleting_since_micros() != 0)
          return absl::FailedPreconditionError("the study is being deleted by its retention rule");
        change(record);
        rocksdb::WriteBatch batch;
        if (Empty(record)) {
          if (found) batch.Delete(state.cf(kRetentionCf), ToSlice(study_uid));
        } else {
          batch.Put(state.cf(kRetentionCf), ToSlice(study_uid), Encode(record));
        }
        if (batch.Count() > 0)
          RETURN_IF_ERROR(Annotate(writer_->Write(&batch), "writing retention"));
        ASSIGN_OR_RETURN(const int64_t ingested_at, IngestedAt(state, study_uid));
        answer.info = Describe(record, ingested_at);
        answer.study_stored = ingested_at != 0;
        return absl::OkStatus();
      }));
  return answer;
}

absl::Status Catalog::WithRetentionRecord(
    absl::string_view study_uid,
    const std::function<absl::Status(const KvReader& state, v1::StoredRetention& record,
                                     bool found)>& fn) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  v1::StoredRetention record;
  bool found = false;
  RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, study_uid, &record, &found));
  return fn(state, record, found);
}

absl::StatusOr<std::vector<RetentionEntry>> Catalog::ListRetention(int64_t now_micros) const {
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  ASSIGN_OR_RETURN(const auto shares, ShareEndsByStudy(state, now_micros));
  std::vector<RetentionEntry> out;
  RETURN_IF_ERROR(ScanProtos<v1::StoredRetention>(
      state, kRetentionCf, "", [&](absl::string_view key, v1::StoredRetention& record) {
        RetentionEntry entry;
        entry.study_uid = std::string(key);
        entry.record = std::move(record);
        out.push_back(std::move(entry));
        return true;
      }));
  for (RetentionEntry& entry : out) {
    ASSIGN_OR_RETURN(entry.ingested_at_micros, IngestedAt(state, entry.study_uid));
    if (entry.record.deleting_since_micros() == 0) {
      entry.due_reason =
          DueReason(entry.record, entry.ingested_at_micros, shares, entry.study_uid, now_micros);
    }
  }
  return out;
}

absl::StatusOr<RetentionDeletion> Catalog::DeleteForRetention(absl::string_view study_uid,
                                                              int64_t now_micros) {
  RetentionDeletion deletion;
  RETURN_IF_ERROR(WithRetentionRecord(
      study_uid,
      [&](const KvReader& state, v1::StoredRetention& record, bool found) -> absl::Status {
        if (!found) return absl::NotFoundError("the study has no retention rule");
        deletion.rule_set_by = record.info().rule_set_by();
        if (record.deleting_since_micros() != 0) {
          deletion.reason = record.deleting_reason();
        } else {
          if (record.info().hold())
            return absl::FailedPreconditionError("the study is under legal hold");
          ASSIGN_OR_RETURN(const int64_t ingested_at, IngestedAt(state, study_uid));
          ASSIGN_OR_RETURN(const auto shares, ShareEndsByStudy(state, now_micros, study_uid));
          deletion.reason = DueReason(record, ingested_at, shares, study_uid, now_micros);
          if (deletion.reason.empty())
            return absl::FailedPreconditionError("the study is not due for deletion");
        }
        ASSIGN_OR_RETURN(DeletePlan plan,
                         PlanDeleteStudy(state, study_uid, now_micros, &deletion.reason));
        if (plan.batch.Count() > 0)
          RETURN_IF_ERROR(Annotate(writer_->Write(&plan.batch), "deleting study by retention"));
        deletion.result = std::move(plan.result);
        return absl::OkStatus();
      }));
  return deletion;
}

absl::Status Catalog::FinishRetention(absl::string_view study_uid) {
  return WithRetentionRecord(
      study_uid,
      [&](const KvReader& state, v1::StoredRetention& record, bool found) -> absl::Status {
        if (!found || record.deleting_since_micros() == 0) return absl::OkStatus();
        bool pending = false;
        RETURN_IF_ERROR(state.ScanPrefix(kIndexCf, keys::StudyTombstonePrefix(study_uid),
                                         [&](absl::string_view, absl::string_view) {
                                           pending = true;
                                           return false;
                                         }));
        if (pending)
          return absl::FailedPreconditionError("keys of the study still await destruction");
        rocksdb::WriteBatch batch;
        batch.Delete(state.cf(kRetentionCf), ToSlice(study_uid));
        return Annotate(writer_->Write(&batch), "finishing retention deletion");
      });
}

absl::Status Catalog::WhileStudiesKept(const std::vector<std::string>& study_uids,
                                       const std::function<absl::Status()>& write) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(writer_->Barrier());
  KvReader state(kv_);
  for (const std::string& uid : study_uids) {
    v1::StoredRetention record;
    bool found = false;
    RETURN_IF_ERROR(ReadOptional(state, kRetentionCf, uid, &record, &found));
    if (record.deleting_since_micros() != 0)
      return absl::FailedPreconditionError("a study to share is being deleted by its retention");
    ASSIGN_OR_RETURN(const bool stored, state.Exists(kStudiesCf, uid));
    if (!stored) return absl::NotFoundError("a study to share is not stored");
  }
  return write();
}

}  // namespace medvault::metaserver
