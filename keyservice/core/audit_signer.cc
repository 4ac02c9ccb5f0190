#include "keyservice/core/audit_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace medvault::keyservice {
namespace {

constexpr char kDomain[] = "medvault audit head v1";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the audit signing key is not an Ed25519 key");
  }
  std::string raw(kEd25519PublicKeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kEd25519PublicKeyBytes) {
    return absl::InternalError("reading the audit signing key's public half");
  }
  return raw;
}

// Parses a PEM private key, or a public one when `allow_public`.
absl::StatusOr<Pkey> ParsePem(const std::string& pem, bool allow_public) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), BIO_free);
  if (!bio) return absl::InternalError("allocating a BIO");
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key && allow_public) {
    BIO_reset(bio.get());
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!key) return absl::InvalidArgumentError("not a PEM Ed25519 key");
  return key;
}

}  // namespace

std::string AuditHeadMessage(uint64_t position, absl::string_view hash, int64_t time_micros) {
  return absl::StrCat(absl::string_view(kDomain, sizeof(kDomain)), BigEndian64(position), hash,
                      BigEndian64(static_cast<uint64_t>(time_micros)));
}

std::string AuditKeyId(absl::string_view raw_public_key) {
  return ToHex(Sha256(raw_public_key).substr(0, 8));
}

absl::StatusOr<std::unique_ptr<AuditSigner>> AuditSigner::FromPemFile(Filesystem* fs,
                                                                      const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        "the audit signing key file is readable by group or others (want mode 0600 or 0400)");
  }
  ASSIGN_OR_RETURN(std::string pem, fs->ReadFile(path));
  absl::StatusOr<Pkey> key = ParsePem(pem, /*allow_public=*/false);
  WipeString(&pem);
  if (!key.ok()) return Annotate(key.status(), "the audit signing key file");
  std::unique_ptr<AuditSigner> signer(new AuditSigner());
  ASSIGN_OR_RETURN(signer->public_key_, RawPublicKey(key->get()));
  signer->key_id_ = AuditKeyId(signer->public_key_);
  signer->pkey_ = key->release();
  return signer;
}

AuditSigner::~AuditSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::string> AuditSigner::Sign(absl::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_)) !=
          1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("signing the audit head");
  }
  sig.resize(len);
  return sig;
}

void AuditTrustedKeys::Add(absl::string_view raw_public_key) {
  keys_[AuditKeyId(raw_public_key)] = std::string(raw_public_key);
}

absl::Status AuditTrustedKeys::AddPemFile(Filesystem* fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, fs->ReadFile(path));
  absl::StatusOr<Pkey> key = ParsePem(pem, /*allow_public=*/true);
  WipeString(&pem);
  if (!key.ok()) return Annotate(key.status(), "an audit verify key file");
  ASSIGN_OR_RETURN(std::string raw, RawPublicKey(key->get()));
  Add(raw);
  return absl::OkStatus();
}

absl::Status AuditTrustedKeys::Check(const v1::SignedAuditHead& head) const {
  auto it = keys_.find(head.key_id());
  if (it == keys_.end()) return absl::InvalidArgumentError("signed by a key that is not trusted");
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                       reinterpret_cast<const unsigned char*>(it->second.data()),
                                       it->second.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  const std::string message = AuditHeadMessage(head.position(), head.hash(), head.time_micros());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return absl::InternalError("preparing to verify a signed audit head");
  }
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(head.signature().data()),
                       head.signature().size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    return absl::InvalidArgumentError("its signature is not valid");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SignAuditHead(KvStore* kv, KvWriter* writer, const AuditSigner& signer,
                                       Clock* clock) {
  RETURN_IF_ERROR(writer->Barrier());
  ASSIGN_OR_RETURN(ChainHead head, ReadChainHead(*kv));
  if (head.position == 0) return 0;
  std::unique_ptr<rocksdb::Iterator> it = kv->NewIterator(kAuditHeadsColumnFamily);
  it->SeekToLast();
  if (it->Valid() &&
      FromBigEndian64(absl::string_view(it->key().data(), it->key().size())) >= head.position) {
    return 0;
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the signed audit heads"));
  v1::SignedAuditHead signed_head;
  signed_head.set_position(head.position);
  signed_head.set_hash(head.hash);
  signed_head.set_time_micros(clock->NowMicros());
  signed_head.set_key_id(signer.key_id());
  ASSIGN_OR_RETURN(
      *signed_head.mutable_signature(),
      signer.Sign(AuditHeadMessage(head.position, head.hash, signed_head.time_micros())));
  rocksdb::WriteBatch batch;
  batch.Put(kv->cf(kAuditHeadsColumnFamily), BigEndian64(head.position),
            signed_head.SerializeAsString());
  RETURN_IF_ERROR(Annotate(writer->Write(&batch), "storing a signed audit head"));
  return head.position;
}

}  // namespace medvault::keyservice
