#include "common/testing/policy_table.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "common/tls.h"

namespace medvault::testing {
namespace {

const char* const kScopedClients[][2] = {{"reader", "read"},
                                         {"writer", "write"},
                                         {"deleter", "delete"},
                                         {"admin", "admin"},
                                         {"auditor", "audit"}};

}  // namespace

ClientScopes OneScopeClients() {
  std::string text;
  for (const auto& [name, scope] : kScopedClients) absl::StrAppend(&text, name, " ", scope, "\n");
  absl::StatusOr<ClientScopes> scopes = ClientScopes::Parse(text);
  return scopes.ok() ? *scopes : ClientScopes();
}

std::vector<PeerIdentity> AllCallers() {
  std::vector<PeerIdentity> callers;
  for (const char* role : {kFrontendPeer, kMetaServerPeer, kChunkServerPeer, kKeyServicePeer}) {
    callers.push_back(PeerIdentity{true, role, role});
  }
  for (const auto& [name, scope] : kScopedClients) {
    callers.push_back(PeerIdentity{true, kClientRole, name});
  }
  callers.push_back(PeerIdentity{true, kClientRole, "no-scopes"});
  callers.push_back(PeerIdentity{true, "stranger", "stranger"});
  callers.push_back(PeerIdentity{});
  return callers;
}

std::vector<std::string> PolicyTableMismatches(const AccessPolicy& policy,
                                               const std::vector<std::string>& services,
                                               const PolicyTable& table) {
  std::vector<std::string> out;
  std::set<std::string> methods;
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) {
      out.push_back(absl::StrCat("no proto service ", name));
      continue;
    }
    for (int i = 0; i < service->method_count(); ++i) methods.insert(service->method(i)->name());
  }
  for (const auto& [method, allowed] : table) {
    if (methods.count(method) == 0) out.push_back(absl::StrCat(method, ": no such rpc"));
  }
  for (const std::string& method : methods) {
    auto row = table.find(method);
    if (row == table.end()) {
      out.push_back(absl::StrCat(method, ": missing from the table"));
      continue;
    }
    for (const PeerIdentity& caller : AllCallers()) {
      const bool allowed = policy.Check(caller, method).ok();
      const bool expected = row->second.count(caller.ToString()) > 0;
      if (allowed != expected) {
        out.push_back(absl::StrCat(method, ": ", caller.ToString(),
                                   allowed ? " allowed" : " refused", ", table says ",
                                   expected ? "allowed" : "refused"));
      }
    }
  }
  return out;
}

}  // namespace medvault::testing
