// Signing the audit chain's head: an Ed25519 key (OpenSSL) held by the key service signs
// (position, hash, time) of the head; the signed heads are stored replicated beside the chain, so
// rewriting the log after a signed head (even recomputing every hash) no longer matches it, and
// cutting records off the end leaves a signed head past the end. The public keys that verify are
// configured (the current key's and those of earlier keys, kept after a rotation), never taken from
// the stored heads themselves. Key placement and rotation: docs/security.md.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"
#include "common/kv.h"
#include "keyservice/core/audit_chain.h"
#include "medvault/v1/keyservice.pb.h"

namespace medvault::keyservice {

inline constexpr size_t kEd25519PublicKeyBytes = 32;

// What a head's signature covers.
std::string AuditHeadMessage(uint64_t position, absl::string_view hash, int64_t time_micros);
// Hex of the first 8 bytes of SHA-256 over a raw Ed25519 public key.
std::string AuditKeyId(absl::string_view raw_public_key);

// An Ed25519 private key. Thread-safe.
class AuditSigner {
 public:
  // Reads a PEM private key (e.g. `openssl genpkey -algorithm ed25519`). INVALID_ARGUMENT when it
  // is not an Ed25519 private key, FAILED_PRECONDITION when the file is readable by group or
  // others; the filesystem's error when it cannot be read. Never echoes the file's contents.
  static absl::StatusOr<std::unique_ptr<AuditSigner>> FromPemFile(Filesystem* fs,
                                                                  const std::string& path);
  ~AuditSigner();

  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  const std::string& public_key() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }

 private:
  AuditSigner() = default;
  void* pkey_ = nullptr;  // EVP_PKEY*
  std::string public_key_;
  std::string key_id_;
};

// The public keys trusted to have signed heads, by key id.
class AuditTrustedKeys {
 public:
  void Add(absl::string_view raw_public_key);
  // Adds the public key of a PEM file holding an Ed25519 public or private key.
  absl::Status AddPemFile(Filesystem* fs, const std::string& path);
  bool empty() const { return keys_.empty(); }
  // OK when `head` carries a valid signature by a trusted key; INVALID_ARGUMENT saying which
  // (unknown key, bad signature) otherwise.
  absl::Status Check(const v1::SignedAuditHead& head) const;

 private:
  std::map<std::string, std::string> keys_;  // key id -> raw public key
};

// Signs the committed head of the chain in `kv` with `signer` at `clock`'s time and stores it
// through `writer` (after a barrier), unless the latest signed head already covers it. Returns the
// position signed (0: nothing to sign).
absl::StatusOr<uint64_t> SignAuditHead(KvStore* kv, KvWriter* writer, const AuditSigner& signer,
                                       Clock* clock);

}  // namespace medvault::keyservice
