#include "tests/testing/key_audit.h"

#include "common/rpc.h"
#include "medvault/v1/keyservice.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"

namespace medvault::testing {

absl::StatusOr<std::string> ObjectIdOf(const ExternalCluster& cluster,
                                       const std::string& sop_instance_uid) {
  auto meta = v1::MetaService::NewStub(cluster.Channel(cluster.metaserver(), kMetaServerPeer));
  grpc::ClientContext ctx;
  v1::GetInstanceMetaRequest req;
  req.set_sop_instance_uid(sop_instance_uid);
  v1::GetInstanceMetaResponse m;
  grpc::Status s = meta->GetInstance(&ctx, req, &m);
  if (!s.ok()) return FromGrpcStatus(s);
  return m.manifest().object_id();
}

absl::StatusOr<std::vector<v1::AuditRecord>> KeyReleasesOf(const ExternalCluster& cluster,
                                                           const std::string& sop_instance_uid) {
  absl::StatusOr<std::string> object_id = ObjectIdOf(cluster, sop_instance_uid);
  if (!object_id.ok()) return object_id.status();
  auto keys = v1::KeyService::NewStub(cluster.Channel(cluster.keyservice(), kKeyServicePeer));
  std::vector<v1::AuditRecord> out;
  v1::QueryAuditRequest q;
  q.set_object_id(*object_id);
  do {
    grpc::ClientContext ctx;
    v1::QueryAuditResponse page;
    grpc::Status s = keys->QueryAudit(&ctx, q, &page);
    if (!s.ok()) return FromGrpcStatus(s);
    for (const v1::AuditRecord& r : page.records()) {
      if (r.op() == "release") out.push_back(r);
    }
    q.set_page_token(page.next_page_token());
  } while (!q.page_token().empty());
  return out;
}

}  // namespace medvault::testing
