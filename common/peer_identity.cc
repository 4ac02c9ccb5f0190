#include "common/peer_identity.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace medvault {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// The single value of `nid` in `subject`; INVALID_ARGUMENT when absent or repeated.
absl::StatusOr<std::string> OnlyEntry(X509_NAME* subject, int nid, absl::string_view what) {
  const int first = X509_NAME_get_index_by_NID(subject, nid, -1);
  if (first < 0) {
    return absl::InvalidArgumentError(absl::StrCat("certificate subject has no ", what));
  }
  if (X509_NAME_get_index_by_NID(subject, nid, first) >= 0) {
    return absl::InvalidArgumentError(absl::StrCat("certificate subject has more than one ", what));
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, first));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0)
    return absl::InvalidArgumentError(absl::StrCat("certificate ", what, " is not text"));
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (out.empty())
    return absl::InvalidArgumentError(absl::StrCat("certificate ", what, " is empty"));
  return out;
}

}  // namespace

std::string PeerIdentity::ToString() const {
  if (!authenticated) return "unauthenticated";
  return absl::StrCat(role, "/", name);
}

absl::StatusOr<PeerIdentity> IdentityFromCertificatePem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr)
    return absl::InvalidArgumentError("peer certificate is not a PEM certificate");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  PeerIdentity who;
  who.authenticated = true;
  absl::StatusOr<std::string> role =
      OnlyEntry(subject, NID_organizationalUnitName, "organizationalUnitName (role)");
  if (!role.ok()) return role.status();
  absl::StatusOr<std::string> name = OnlyEntry(subject, NID_commonName, "commonName");
  if (!name.ok()) return name.status();
  who.role = *std::move(role);
  who.name = *std::move(name);
  return who;
}

absl::StatusOr<PeerIdentity> IdentityCache::Identify(absl::string_view pem) {
  {
    absl::MutexLock lock(&mu_);
    auto it = known_.find(pem);
    if (it != known_.end()) return it->second;
  }
  absl::StatusOr<PeerIdentity> who = IdentityFromCertificatePem(pem);
  if (!who.ok()) return who;
  absl::MutexLock lock(&mu_);
  if (known_.size() >= capacity_) known_.clear();
  known_.emplace(std::string(pem), *who);
  return who;
}

size_t IdentityCache::size() const {
  absl::MutexLock lock(&mu_);
  return known_.size();
}

absl::StatusOr<PeerIdentity> IdentifyPeer(const grpc::ServerContext& context) {
  static IdentityCache* const cache = new IdentityCache();
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return PeerIdentity{};
  std::vector<grpc::string_ref> type = auth->FindPropertyValues("transport_security_type");
  const bool tls = !type.empty() && std::string(type[0].data(), type[0].size()) == "ssl";
  if (!tls) return PeerIdentity{};
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::UnauthenticatedError("the caller presented no client certificate");
  absl::StatusOr<PeerIdentity> who =
      cache->Identify(absl::string_view(pem[0].data(), pem[0].size()));
  if (!who.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the caller's certificate names no usable identity: ", who.status().message()));
  }
  return who;
}

}  // namespace medvault
