#include "frontend/core/share_desk.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace medvault::frontend {
namespace {

constexpr int kMaxStudies = 100;
constexpr size_t kMaxLabel = 200;
constexpr size_t kSaltBytes = 16;

bool IsShareId(absl::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::Status ShareRefusal() {
  return absl::PermissionDeniedError(
      "this access code and PIN do not open a share (it may have ended); ask the sender");
}

absl::Status WrongPin(uint32_t attempts_remaining) {
  return absl::PermissionDeniedError(absl::StrCat("wrong PIN; ", attempts_remaining, " attempt",
                                                  attempts_remaining == 1 ? "" : "s",
                                                  " left before the share locks"));
}

absl::Status TooManyAttempts() {
  return absl::ResourceExhaustedError("too many attempts from this address; try again later");
}

ShareDesk::ShareDesk(ShareMetaClient* meta, MetaClient* studies, Clock* clock, ShareOptions options,
                     ShareAuditFn audit)
    : meta_(meta),
      studies_(studies),
      clock_(clock),
      options_(options),
      audit_(std::move(audit)),
      dummy_salt_(RandomBytes(kSaltBytes).value_or(std::string(kSaltBytes, 'x'))) {}

std::string ShareDesk::PeerHost(absl::string_view peer) {
  for (absl::string_view prefix : {"ipv4:", "ipv6:"}) {
    if (absl::StartsWith(peer, prefix)) peer.remove_prefix(prefix.size());
  }
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    return std::string(peer.substr(1, close == absl::string_view::npos ? peer.npos : close - 1));
  }
  size_t colon = peer.rfind(':');
  if (colon != absl::string_view::npos && peer.find(':') == colon) peer = peer.substr(0, colon);
  return std::string(peer);
}

absl::StatusOr<CreatedShare> ShareDesk::Create(const v1::CreateShareRequest& request,
                                               const std::string& creator) {
  if (request.study_uids_size() == 0) return absl::InvalidArgumentError("give at least one study");
  if (request.study_uids_size() > kMaxStudies) {
    return absl::InvalidArgumentError(
        absl::StrCat("a share holds at most ", kMaxStudies, " studies"));
  }
  const int64_t expiry = request.expires_in_seconds() == 0 ? options_.default_expiry_seconds
                                                           : request.expires_in_seconds();
  if (expiry < options_.min_expiry_seconds || expiry > options_.max_expiry_seconds) {
    return absl::InvalidArgumentError(absl::StrCat("the expiry must be ",
                                                   options_.min_expiry_seconds, " s to ",
                                                   options_.max_expiry_seconds, " s"));
  }
  if (request.label().size() > kMaxLabel)
    return absl::InvalidArgumentError(
        absl::StrCat("the label is longer than ", kMaxLabel, " bytes"));
  for (char c : request.label()) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError("the label contains a control character");
  }
  v1::StoredShare share;
  v1::ShareInfo& info = *share.mutable_info();
  for (const std::string& uid : request.study_uids()) {
    if (uid.empty() || uid.size() > 64 || uid.find('\0') != std::string::npos)
      return absl::InvalidArgumentError("a study UID is empty, too long or contains NUL");
    if (std::find(info.study_uids().begin(), info.study_uids().end(), uid) !=
        info.study_uids().end())
      continue;
    absl::StatusOr<v1::GetStudyMetaResponse> study = studies_->GetStudy(uid);
    if (absl::IsNotFound(study.status()))
      return absl::NotFoundError("a study to share is not stored");
    if (!study.ok()) return study.status();
    info.add_study_uids(uid);
  }
  info.set_expires_at_micros(clock_->NowMicros() + expiry * 1'000'000);
  info.set_max_uses(request.max_uses());
  info.set_download_allowed(!request.no_download());
  info.set_label(request.label());
  info.set_created_by(creator);

  CreatedShare created;
  ASSIGN_OR_RETURN(created.access_code, NewAccessCode());
  ASSIGN_OR_RETURN(created.pin, NewPin());
  ASSIGN_OR_RETURN(std::string code, NormalizeAccessCode(created.access_code));
  share.set_code_hash(AccessCodeHash(code));
  ASSIGN_OR_RETURN(std::string salt, RandomBytes(kSaltBytes));
  ASSIGN_OR_RETURN(std::string pin_hash, HashPin(created.pin, salt, options_.scrypt));
  share.set_pin_salt(salt);
  share.set_pin_hash(pin_hash);
  share.set_pin_scrypt_log2_n(options_.scrypt.log2_n);
  share.set_pin_scrypt_r(options_.scrypt.r);
  share.set_pin_scrypt_p(options_.scrypt.p);
  ASSIGN_OR_RETURN(v1::StoredShare stored, meta_->CreateShare(share));
  created.info = stored.info();
  return created;
}

absl::StatusOr<v1::ShareRef> ShareDesk::RefOf(const std::string& share) const {
  v1::ShareRef ref;
  if (IsShareId(share)) {
    ref.set_share_id(absl::AsciiStrToLower(share));
    return ref;
  }
  absl::StatusOr<std::string> code = NormalizeAccessCode(share);
  if (!code.ok())
    return absl::InvalidArgumentError("name a share by its access code or its 16-digit share id");
  ref.set_code_hash(AccessCodeHash(*code));
  return ref;
}

absl::StatusOr<std::vector<v1::ShareInfo>> ShareDesk::List() { return meta_->ListShares(); }

absl::StatusOr<v1::ShareInfo> ShareDesk::Show(const std::string& share) {
  ASSIGN_OR_RETURN(v1::ShareRef ref, RefOf(share));
  ASSIGN_OR_RETURN(v1::StoredShare stored, meta_->GetShare(ref));
  return stored.info();
}

// Revocation and unlock stand once the metaserver has them (the share's log records them too):
// their audit record is best effort.
absl::StatusOr<v1::ShareInfo> ShareDesk::Revoke(const std::string& share,
                                                const std::string& actor) {
  ASSIGN_OR_RETURN(v1::ShareRef ref, RefOf(share));
  ASSIGN_OR_RETURN(v1::StoredShare stored, meta_->RevokeShare(ref, actor));
  (void)Audit(actor, absl::StrCat("ShareRevoke share/", stored.info().share_id()), "",
              absl::StatusCode::kOk);
  return stored.info();
}

absl::StatusOr<v1::ShareInfo> ShareDesk::Unlock(const std::string& share,
                                                const std::string& actor) {
  ASSIGN_OR_RETURN(v1::ShareRef ref, RefOf(share));
  ASSIGN_OR_RETURN(v1::StoredShare stored, meta_->UnlockShare(ref, actor));
  (void)Audit(actor, absl::StrCat("ShareUnlock share/", stored.info().share_id()), "",
              absl::StatusCode::kOk);
  return stored.info();
}

absl::Status ShareDesk::Audit(const std::string& on_behalf_of, const std::string& purpose,
                              const std::string& peer, absl::StatusCode result) {
  if (!audit_) return absl::OkStatus();
  absl::Status written = audit_(on_behalf_of, purpose, peer, result);
  if (!written.ok()) {
    MV_LOG(WARNING) << "could not write a share event to the key service's audit: "
                    << written.code();
  }
  return written;
}

absl::StatusOr<std::vector<v1::ShareLogEntry>> ShareDesk::Log(const std::string& share) {
  ASSIGN_OR_RETURN(v1::ShareRef ref, RefOf(share));
  return meta_->GetShareLog(ref);
}

bool ShareDesk::Throttled(const std::string& host) {
  absl::MutexLock lock(&mu_);
  auto it = failures_.find(host);
  if (it == failures_.end()) return false;
  if (clock_->NowMicros() - it->second.start_micros >=
      options_.failure_window_seconds * 1'000'000) {
    failures_.erase(it);
    return false;
  }
  return it->second.failures >= options_.max_failures_per_address;
}

void ShareDesk::CountFailure(const std::string& host) {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMicros();
  const int64_t window = options_.failure_window_seconds * 1'000'000;
  if (failures_.size() >= options_.max_tracked_addresses && failures_.count(host) == 0) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = now - it->second.start_micros >= window ? failures_.erase(it) : std::next(it);
    }
    // Still full: forget the oldest window.
    if (failures_.size() >= options_.max_tracked_addresses) {
      auto oldest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
        return a.second.start_micros < b.second.start_micros;
      });
      failures_.erase(oldest);
    }
  }
  Window& w = failures_[host];
  if (w.failures == 0 || now - w.start_micros >= window) w = Window{now, 0};
  ++w.failures;
}

absl::StatusOr<Redemption> ShareDesk::Redeem(absl::string_view code, absl::string_view pin,
                                             const std::string& peer) {
  const std::string host = PeerHost(peer);
  if (Throttled(host)) return TooManyAttempts();
  absl::StatusOr<std::string> normalized_code = NormalizeAccessCode(code);
  absl::StatusOr<std::string> normalized_pin = NormalizePin(pin);
  absl::StatusOr<v1::StoredShare> share = absl::NotFoundError("no code");
  Redemption out;
  if (normalized_code.ok()) {
    out.code_hash = AccessCodeHash(*normalized_code);
    v1::ShareRef ref;
    ref.set_code_hash(out.code_hash);
    share = meta_->GetShare(ref);
    if (!share.ok() && !absl::IsNotFound(share.status())) return share.status();
  }
  // The recipient as the audit names it: the share id (16 hex digits of the code's hash), never
  // the code; "-" for a code that is not even well-formed.
  const std::string recipient = absl::StrCat(
      kShareSessionRole, "/", out.code_hash.empty() ? "-" : ToHex(out.code_hash.substr(0, 8)));
  if (!share.ok()) {
    // An unknown code costs the same PIN hash as a known one.
    (void)HashPin(normalized_pin.ok() ? *normalized_pin : std::string(kPinChars, 'A'), dummy_salt_,
                  options_.scrypt);
    CountFailure(host);
    (void)Audit(recipient, "ShareRedeem (refused: no such share)", peer,
                absl::StatusCode::kPermissionDenied);
    return ShareRefusal();
  }
  bool pin_ok = false;
  if (normalized_pin.ok()) {
    ScryptParams params{share->pin_scrypt_log2_n(), share->pin_scrypt_r(), share->pin_scrypt_p()};
    ASSIGN_OR_RETURN(pin_ok,
                     PinMatches(*normalized_pin, share->pin_salt(), params, share->pin_hash()));
  }
  v1::RecordShareAccessRequest record;
  record.set_code_hash(out.code_hash);
  record.set_redeem(true);
  record.set_pin_ok(pin_ok);
  record.mutable_entry()->set_peer(peer);
  ASSIGN_OR_RETURN(v1::RecordShareAccessResponse decision, meta_->RecordShareAccess(record));
  if (!decision.allowed()) {
    CountFailure(host);
    // Only a wrong PIN the share counted (it was open) says so; every other refusal is the same.
    if (!pin_ok && decision.share().failed_attempts() > share->info().failed_attempts()) {
      (void)Audit(recipient,
                  decision.attempts_remaining() == 0
                      ? std::string("ShareRedeem (wrong PIN, share locked)")
                      : absl::StrCat("ShareRedeem (wrong PIN, ", decision.attempts_remaining(),
                                     decision.attempts_remaining() == 1 ? " attempt" : " attempts",
                                     " left)"),
                  peer, absl::StatusCode::kPermissionDenied);
      return WrongPin(decision.attempts_remaining());
    }
    (void)Audit(recipient, absl::StrCat("ShareRedeem (refused: ", decision.share().state(), ")"),
                peer, absl::StatusCode::kPermissionDenied);
    return ShareRefusal();
  }
  // No session is opened unless the key service's audit holds the redemption.
  if (absl::Status audited = Audit(recipient, "ShareRedeem", peer, absl::StatusCode::kOk);
      !audited.ok()) {
    return absl::UnavailableError("the redemption could not be audited");
  }
  out.share = decision.share();
  return out;
}

absl::StatusOr<bool> ShareDesk::RecordRead(const std::string& code_hash, v1::ShareLogEntry entry) {
  v1::RecordShareAccessRequest record;
  record.set_code_hash(code_hash);
  record.set_redeem(false);
  *record.mutable_entry() = std::move(entry);
  ASSIGN_OR_RETURN(v1::RecordShareAccessResponse decision, meta_->RecordShareAccess(record));
  const std::string& state = decision.share().state();
  return state != "revoked" && state != "expired";
}

}  // namespace medvault::frontend
