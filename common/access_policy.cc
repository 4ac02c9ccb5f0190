#include "common/access_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace medvault {

absl::StatusOr<Scope> ParseScope(absl::string_view text) {
  if (text == "read") return Scope::kRead;
  if (text == "write") return Scope::kWrite;
  if (text == "delete") return Scope::kDelete;
  if (text == "admin") return Scope::kAdmin;
  if (text == "audit") return Scope::kAudit;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scope \"", text, "\" (scopes: read, write, delete, admin, audit)"));
}

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kRead:
      return "read";
    case Scope::kWrite:
      return "write";
    case Scope::kDelete:
      return "delete";
    case Scope::kAdmin:
      return "admin";
    case Scope::kAudit:
      return "audit";
  }
  return "unknown";
}

absl::StatusOr<ClientScopes> ClientScopes::Parse(absl::string_view text) {
  ClientScopes out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "client scopes line ", line_no, ": expected \"<client name> <scope>[,<scope>...]\""));
    }
    const std::string client(fields[0]);
    if (out.scopes_.count(client) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("client scopes line ", line_no, ": client ", client, " is listed twice"));
    }
    std::set<Scope>& scopes = out.scopes_[client];
    for (absl::string_view name : absl::StrSplit(fields[1], ',', absl::SkipEmpty())) {
      absl::StatusOr<Scope> scope = ParseScope(name);
      if (!scope.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("client scopes line ", line_no, ": ", scope.status().message()));
      }
      scopes.insert(*scope);
    }
  }
  return out;
}

absl::StatusOr<ClientScopes> ClientScopes::Load(Filesystem* fs, const std::string& path) {
  absl::StatusOr<std::string> text = fs->ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("reading client scopes ", path, ": ",
                                                           text.status().message()));
  }
  absl::StatusOr<ClientScopes> scopes = Parse(*text);
  if (!scopes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", scopes.status().message()));
  }
  return scopes;
}

bool ClientScopes::Has(const std::string& client, Scope scope) const {
  auto it = scopes_.find(client);
  return it != scopes_.end() && it->second.count(scope) > 0;
}

AccessPolicy& AccessPolicy::AllowRoles(const std::string& method, std::vector<std::string> roles) {
  Rule& rule = rules_[method];
  rule.roles.insert(roles.begin(), roles.end());
  return *this;
}

AccessPolicy& AccessPolicy::AllowScope(const std::string& method, Scope scope) {
  rules_[method].scopes.insert(scope);
  return *this;
}

bool AccessPolicy::Covers(absl::string_view method) const { return rules_.count(method) > 0; }

absl::Status AccessPolicy::Check(const PeerIdentity& who, absl::string_view method) const {
  auto it = rules_.find(method);
  if (it != rules_.end() && who.authenticated) {
    const Rule& rule = it->second;
    if (rule.roles.count(who.role) > 0) return absl::OkStatus();
    if (who.role == kClientRole) {
      for (Scope scope : rule.scopes) {
        if (clients_.Has(who.name, scope)) return absl::OkStatus();
      }
      if (!rule.scopes.empty()) {
        return absl::PermissionDeniedError(absl::StrCat("client ", who.name, " lacks the ",
                                                        ScopeName(*rule.scopes.begin()),
                                                        " scope needed for ", method));
      }
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(who.ToString(), " may not call ", method));
}

Authorizer::Authorizer(const std::string& service, AccessPolicy policy, bool enforce,
                       prometheus::Registry& registry)
    : service_(service),
      policy_(std::move(policy)),
      enforce_(enforce),
      denied_(
          prometheus::BuildCounter()
              .Name(absl::StrCat("medvault_", service, "_requests_denied_total"))
              .Help(
                  "Calls refused by authorisation (no usable identity, or not allowed), by method.")
              .Register(registry)) {}

absl::StatusOr<PeerIdentity> Authorizer::Authorize(const grpc::ServerContext& context,
                                                   absl::string_view method, PeerIdentity* caller) {
  if (!enforce_) return PeerIdentity{};
  absl::StatusOr<PeerIdentity> who = IdentifyPeer(context);
  if (caller != nullptr && who.ok()) *caller = *who;
  return AuthorizeIdentity(who, method);
}

absl::StatusOr<PeerIdentity> Authorizer::AuthorizeIdentity(const absl::StatusOr<PeerIdentity>& who,
                                                           absl::string_view method) {
  if (!enforce_) return PeerIdentity{};
  if (!who.ok()) return Deny(PeerIdentity{}, method, who.status());
  if (absl::Status allowed = policy_.Check(*who, method); !allowed.ok()) {
    return Deny(*who, method, allowed);
  }
  return who;
}

absl::Status Authorizer::Deny(const PeerIdentity& who, absl::string_view method,
                              absl::Status status) {
  denied_.Add({{"method", std::string(method)}}).Increment();
  MV_LOG(WARNING) << "audit op=deny service=" << service_ << " method=" << method
                  << " caller=" << who.ToString()
                  << " code=" << absl::StatusCodeToString(status.code());
  if (on_denied_) on_denied_(who, method, status);
  return status;
}

absl::Status AuthorizeCall(Authorizer* authz, const grpc::ServerContext& context,
                           absl::string_view method) {
  if (authz == nullptr) return absl::OkStatus();
  return authz->Authorize(context, method).status();
}

}  // namespace medvault
