// Authorisation: which callers may call which method of a service. Service-to-service methods are
// granted to roles (the OU of the caller's certificate, see peer_identity.h); methods of the public
// API are granted to clients by scope (read, write, delete, admin), looked up by the client's name
// (the CN) in a scopes file the operator keeps beside the frontend. Anything not granted is denied.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/env.h"
#include "common/peer_identity.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace medvault {

// What a client of the public API may do.
// kAudit: checking the audit log (VerifyAudit) without the other admin powers.
enum class Scope { kRead, kWrite, kDelete, kAdmin, kAudit };

absl::string_view ScopeName(Scope scope);
// "read", "write", "delete", "admin" or "audit"; INVALID_ARGUMENT naming the unknown word
// otherwise.
absl::StatusOr<Scope> ParseScope(absl::string_view text);

// Scopes per client name. The file format, one client per line:
//   # comment
//   <client name> <scope>[,<scope>...]
// e.g. "pacs-gateway write,read" or "viewer read". Scopes: read, write, delete, admin, audit.
class ClientScopes {
 public:
  // INVALID_ARGUMENT naming the line for an unknown scope, a missing scope list, or a client
  // listed twice.
  static absl::StatusOr<ClientScopes> Parse(absl::string_view text);
  // Reads and parses `path`; the filesystem's error (with the path) when it cannot be read.
  static absl::StatusOr<ClientScopes> Load(Filesystem* fs, const std::string& path);

  void Grant(const std::string& client, Scope scope) { scopes_[client].insert(scope); }
  bool Has(const std::string& client, Scope scope) const;
  size_t size() const { return scopes_.size(); }

 private:
  std::map<std::string, std::set<Scope>> scopes_;
};

// Rules per method (the short rpc name, "GetDataKey"). A method without a rule is denied to all.
class AccessPolicy {
 public:
  // Callers whose certificate role is one of `roles` may call `method`.
  AccessPolicy& AllowRoles(const std::string& method, std::vector<std::string> roles);
  // Clients (role "client") holding `scope` in the scopes may call `method`.
  AccessPolicy& AllowScope(const std::string& method, Scope scope);
  void set_client_scopes(ClientScopes scopes) { clients_ = std::move(scopes); }

  // OK, or PERMISSION_DENIED naming the method and the caller (role/name; never secrets).
  absl::Status Check(const PeerIdentity& who, absl::string_view method) const;
  // True when `method` has a rule (tests check every rpc of a service is covered).
  bool Covers(absl::string_view method) const;

 private:
  struct Rule {
    std::set<std::string> roles;
    std::set<Scope> scopes;
  };
  std::map<std::string, Rule, std::less<>> rules_;
  ClientScopes clients_;
};

// Checks each call of one service against its policy. Denials are counted in
// medvault_<service>_requests_denied_total{method} and logged as a structured line
// ("audit op=deny service=... method=... caller=... code=..."). Thread-safe.
class Authorizer {
 public:
  // `enforce` false (a plaintext, --insecure_plaintext process) lets every call through as
  // "unauthenticated": there is no identity to check.
  Authorizer(const std::string& service, AccessPolicy policy, bool enforce,
             prometheus::Registry& registry);

  // The caller's identity when it may call `method`; otherwise UNAUTHENTICATED (no usable
  // certificate) or PERMISSION_DENIED. `caller`, when given, receives the identity either way
  // (so a service can record who was refused).
  absl::StatusOr<PeerIdentity> Authorize(const grpc::ServerContext& context,
                                         absl::string_view method, PeerIdentity* caller = nullptr);
  // The same check for a door that is not gRPC (DICOMweb over HTTPS; later browser sessions):
  // `who` is the identity that door established, or why it could not (UNAUTHENTICATED). Every
  // door authorises here, so refusals are counted, logged and audited alike.
  absl::StatusOr<PeerIdentity> AuthorizeIdentity(const absl::StatusOr<PeerIdentity>& who,
                                                 absl::string_view method);

  const AccessPolicy& policy() const { return policy_; }

  // Runs for each refusal, after it is counted and logged and before the caller gets its error
  // (the frontend forwards its refusals to the key service's audit log). Set before serving.
  using DenialHook = std::function<void(const PeerIdentity& caller, absl::string_view method,
                                        const absl::Status& why)>;
  void set_on_denied(DenialHook hook) { on_denied_ = std::move(hook); }

 private:
  absl::Status Deny(const PeerIdentity& who, absl::string_view method, absl::Status status);

  const std::string service_;
  const AccessPolicy policy_;
  const bool enforce_;
  prometheus::Family<prometheus::Counter>& denied_;
  DenialHook on_denied_;
};

// OK when `authz` is null (a service built without one, in unit tests) or allows the call.
absl::Status AuthorizeCall(Authorizer* authz, const grpc::ServerContext& context,
                           absl::string_view method);

}  // namespace medvault
