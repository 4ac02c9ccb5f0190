// Who is calling a medvault service: the identity in the client certificate of a mutual-TLS
// connection. Every medvault certificate names a role in its subject's organizationalUnitName
// (frontend, metaserver, chunkserver, keyservice, or client for users of the public API) and the
// holder in its commonName (chunkserver-2, client-readonly). gRPC has verified the certificate
// against the CA before any handler runs; this file only reads what it says.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace medvault {

// Roles a certificate's OU may name.
inline constexpr char kClientRole[] = "client";

struct PeerIdentity {
  // False on a plaintext connection (--insecure_plaintext): role and name are then empty.
  bool authenticated = false;
  std::string role;  // subject OU
  std::string name;  // subject CN

  // "role/name", or "unauthenticated": for logs, errors and audit records (never secret).
  std::string ToString() const;
};

// Role and name from a PEM certificate. INVALID_ARGUMENT when it does not parse or its subject has
// no OU or CN (or more than one of either: a role must be unambiguous).
absl::StatusOr<PeerIdentity> IdentityFromCertificatePem(absl::string_view pem);

// IdentityFromCertificatePem with a memo: every call on a connection presents the same
// certificate, and parsing one costs tens of microseconds of OpenSSL 3 decoder work, which showed
// up as a quarter of the metaserver's CPU under ingest load. Only successful parses are kept; at
// most `capacity` certificates (the memo starts over when full). Thread-safe.
class IdentityCache {
 public:
  explicit IdentityCache(size_t capacity = 1024) : capacity_(capacity) {}
  absl::StatusOr<PeerIdentity> Identify(absl::string_view pem) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, PeerIdentity> known_ ABSL_GUARDED_BY(mu_);
};

// The identity of the caller of the current call (certificates parsed once per process). An
// unauthenticated PeerIdentity when the connection is plaintext; UNAUTHENTICATED when it is TLS but
// carries no usable certificate (gRPC's mutual TLS refuses those connections before this is
// reached; checked anyway).
absl::StatusOr<PeerIdentity> IdentifyPeer(const grpc::ServerContext& context);

}  // namespace medvault
