// Transport security between medvault processes: mutual TLS with certificates from one CA, or (only
// when asked for by name) plaintext. Loads the PEM files, checks them, and builds the gRPC server
// and channel credentials every service and the CLI use.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"

namespace medvault {

// Names medvault certificates carry in their subjectAltName (DNS:<name>). A client dialling a
// service checks that the certificate the server presents names the service it meant to reach.
inline constexpr char kKeyServicePeer[] = "keyservice";
inline constexpr char kMetaServerPeer[] = "metaserver";
inline constexpr char kChunkServerPeer[] = "chunkserver";
inline constexpr char kFrontendPeer[] = "frontend";

// Where one process's TLS identity lives: PEM files of the CA every medvault certificate is signed
// by, of this process's certificate (leaf first, then any intermediates) and of its private key.
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool empty() const { return ca_file.empty() && cert_file.empty() && key_file.empty(); }
};

// How one process talks to others: the credentials its server listens with and its channels dial
// with. Copyable and cheap to copy (the credentials are shared); thread-safe. There is no default:
// callers choose MutualTls or InsecurePlaintext explicitly.
class TransportSecurity {
 public:
  // Mutual TLS from `files` read through `fs`. The server then requires a client certificate
  // signed by the CA and refuses any connection without one (and any plaintext connection);
  // channels present this process's certificate and verify the server's against the CA.
  // Errors (never quoting file contents): INVALID_ARGUMENT when a path is empty; the
  // filesystem's error (NOT_FOUND, PERMISSION_DENIED, ...) with the path when a file cannot be
  // read; INVALID_ARGUMENT when a file is not the PEM it should be, or the key does not belong to
  // the certificate.
  static absl::StatusOr<TransportSecurity> MutualTls(Filesystem* fs, const TlsFiles& files);

  // Plaintext gRPC: no authentication, no encryption. For tests that run servers in-process and
  // for --insecure_plaintext; never for a cluster that holds real data.
  static TransportSecurity InsecurePlaintext();

  bool is_tls() const { return tls_; }
  // "mutual TLS" or "PLAINTEXT (insecure)", for logs.
  absl::string_view Describe() const;

  std::shared_ptr<grpc::ServerCredentials> server_credentials() const { return server_; }
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials() const { return channel_; }

  // Makes a channel built with `args` verify that the server's certificate names `peer` (one of
  // the k*Peer names above) instead of the host in the dialled address. Services dial each other
  // by IP address (127.0.0.1:7620, a pod IP) and every medvault certificate is signed by the same
  // CA, so without this any medvault process could pose as any other; with it, a connection to
  // the key service succeeds only if the server proves it holds a certificate for "keyservice".
  // An empty `peer` keeps gRPC's default check against the dialled host (the development
  // certificates carry DNS:localhost and IP:127.0.0.1 so this works on loopback). No-op without
  // TLS.
  void RequirePeerName(absl::string_view peer, grpc::ChannelArguments* args) const;

  // With TLS: when this process's certificate (the leaf in its certificate file) and the first
  // certificate of its CA file stop being valid (notAfter), in seconds since the Unix epoch, as
  // read at MutualTls(). The process serves with these until it restarts, so this is what expires
  // in use, whatever a renewed file on disk says. 0 without TLS.
  int64_t certificate_not_after() const { return certificate_not_after_; }
  int64_t ca_not_after() const { return ca_not_after_; }

 private:
  TransportSecurity() = default;

  bool tls_ = false;
  std::shared_ptr<grpc::ServerCredentials> server_;
  std::shared_ptr<grpc::ChannelCredentials> channel_;
  int64_t certificate_not_after_ = 0;
  int64_t ca_not_after_ = 0;
};

// The notAfter of the first PEM certificate in `pem`, in seconds since the Unix epoch.
// INVALID_ARGUMENT when `pem` holds no certificate or its notAfter cannot be read.
absl::StatusOr<int64_t> CertificateNotAfter(absl::string_view pem);

// The choice every binary makes from its --tls_ca/--tls_cert/--tls_key/--insecure_plaintext
// flags: all three files give MutualTls; no files and `insecure_plaintext` give
// InsecurePlaintext. INVALID_ARGUMENT for anything else (some files but not all, files together
// with insecure_plaintext, or neither), naming the flags, so a service never falls back to
// plaintext by omission.
absl::StatusOr<TransportSecurity> ChooseTransportSecurity(Filesystem* fs, const TlsFiles& files,
                                                          bool insecure_plaintext);

}  // namespace medvault
