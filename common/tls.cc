#include "common/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace medvault {
namespace {

// PEM files are a few KiB; anything far larger is the wrong file.
constexpr uint64_t kMaxPemFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadPemFile(Filesystem* fs, absl::string_view what,
                                        const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("no TLS ", what, " file given"));
  auto info = fs->Stat(path);
  if (!info.ok()) return Annotate(info.status(), absl::StrCat("TLS ", what, " file"));
  if (info->size > kMaxPemFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS ", what, " file ", path, " is larger than 1 MiB"));
  }
  auto bytes = fs->ReadFile(path);
  if (!bytes.ok()) return Annotate(bytes.status(), absl::StrCat("TLS ", what, " file"));
  return bytes;
}

// OpenSSL objects freed on scope exit.
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemBio(absl::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Refuses to prompt for a passphrase: medvault keys are unencrypted files protected by their mode.
int NoPassphrase(char*, int, int, void*) { return 0; }

// Parses what gRPC would otherwise reject late and obscurely (at bind time or in the first
// handshake): a CA file with at least one certificate, a certificate, and the private key of that
// certificate. OpenSSL's own error text is not passed on; it is cleared so gRPC never sees it.
absl::Status CheckPem(const TlsFiles& files, absl::string_view ca, absl::string_view cert,
                      const SecretBytes& key) {
  struct ClearErrors {
    ~ClearErrors() { ERR_clear_error(); }
  } clear_errors;
  {
    BioPtr bio = MemBio(ca);
    X509Ptr first(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (first == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS CA file ", files.ca_file, " holds no PEM certificate"));
    }
  }
  BioPtr cert_bio = MemBio(cert);
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, NoPassphrase, nullptr));
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate file ", files.cert_file, " holds no PEM certificate"));
  }
  BioPtr key_bio = MemBio(key.view());
  PkeyPtr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key file ", files.key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(leaf.get(), pkey.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("TLS key file ", files.key_file,
                                                   " does not belong to the certificate in ",
                                                   files.cert_file));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> CertificateNotAfter(absl::string_view pem) {
  struct ClearErrors {
    ~ClearErrors() { ERR_clear_error(); }
  } clear_errors;
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("no PEM certificate");
  const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
  struct tm tm = {};
  if (not_after == nullptr || ASN1_TIME_to_tm(not_after, &tm) != 1) {
    return absl::InvalidArgumentError("the certificate's notAfter cannot be read");
  }
  return static_cast<int64_t>(timegm(&tm));
}

absl::StatusOr<TransportSecurity> TransportSecurity::MutualTls(Filesystem* fs,
                                                               const TlsFiles& files) {
  ASSIGN_OR_RETURN(std::string ca, ReadPemFile(fs, "CA", files.ca_file));
  ASSIGN_OR_RETURN(std::string cert, ReadPemFile(fs, "certificate", files.cert_file));
  ASSIGN_OR_RETURN(std::string key_bytes, ReadPemFile(fs, "key", files.key_file));
  SecretBytes key(std::move(key_bytes));
  WipeString(&key_bytes);
  RETURN_IF_ERROR(CheckPem(files, ca, cert, key));

  TransportSecurity security;
  security.tls_ = true;
  // CheckPem parsed both, so these fail only on a notAfter OpenSSL cannot convert.
  absl::StatusOr<int64_t> cert_expiry = CertificateNotAfter(cert);
  RETURN_IF_ERROR(Annotate(cert_expiry.status(), files.cert_file));
  absl::StatusOr<int64_t> ca_expiry = CertificateNotAfter(ca);
  RETURN_IF_ERROR(Annotate(ca_expiry.status(), files.ca_file));
  security.certificate_not_after_ = *cert_expiry;
  security.ca_not_after_ = *ca_expiry;
  {
    // Require a client certificate and verify it against the CA: a connection without one, with
    // one from another CA, or with an expired one fails the handshake.
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = ca;
    options.pem_key_cert_pairs.push_back({std::string(key.view()), cert});
    security.server_ = grpc::SslServerCredentials(options);
    // gRPC has copied the key; wipe ours.
    for (auto& pair : options.pem_key_cert_pairs) WipeString(&pair.private_key);
  }
  {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca;  // never the system roots: only the medvault CA is trusted
    options.pem_private_key = std::string(key.view());
    options.pem_cert_chain = cert;
    security.channel_ = grpc::SslCredentials(options);
    WipeString(&options.pem_private_key);
  }
  if (security.server_ == nullptr || security.channel_ == nullptr) {
    return absl::InternalError("gRPC could not build TLS credentials");
  }
  return security;
}

TransportSecurity TransportSecurity::InsecurePlaintext() {
  TransportSecurity security;
  security.server_ = grpc::InsecureServerCredentials();
  security.channel_ = grpc::InsecureChannelCredentials();
  return security;
}

absl::string_view TransportSecurity::Describe() const {
  return tls_ ? "mutual TLS" : "PLAINTEXT (insecure)";
}

void TransportSecurity::RequirePeerName(absl::string_view peer,
                                        grpc::ChannelArguments* args) const {
  // GRPC_SSL_TARGET_NAME_OVERRIDE_ARG: the name checked against the server certificate's
  // subjectAltName (and sent as the authority). The certificate chain is verified against the CA
  // either way.
  if (tls_ && !peer.empty()) args->SetSslTargetNameOverride(std::string(peer));
}

absl::StatusOr<TransportSecurity> ChooseTransportSecurity(Filesystem* fs, const TlsFiles& files,
                                                          bool insecure_plaintext) {
  const bool all = !files.ca_file.empty() && !files.cert_file.empty() && !files.key_file.empty();
  if (!files.empty() && !all) {
    return absl::InvalidArgumentError("give all of --tls_ca, --tls_cert and --tls_key, or none");
  }
  if (all && insecure_plaintext) {
    return absl::InvalidArgumentError(
        "--insecure_plaintext contradicts --tls_ca/--tls_cert/--tls_key");
  }
  if (all) return TransportSecurity::MutualTls(fs, files);
  if (insecure_plaintext) return TransportSecurity::InsecurePlaintext();
  return absl::InvalidArgumentError(
      "no transport security chosen: give --tls_ca, --tls_cert and --tls_key (mutual TLS), or "
      "--insecure_plaintext (tests only)");
}

}  // namespace medvault
