// MetaService's share rpcs: authorise, require the leader (reads brought up to date), call the
// ShareBook. Nothing here logs a share's contents.
#include "common/rpc.h"
#include "metaserver/service/meta_service.h"

namespace medvault::metaserver {

absl::StatusOr<ShareBook*> MetaServiceImpl::LeaderShares() {
  if (shares_ == nullptr) return absl::FailedPreconditionError("this metaserver keeps no shares");
  absl::Status leader = gate_->RequireLeader();
  if (!leader.ok()) return leader;
  absl::Status current = gate_->Barrier();
  if (!current.ok()) return current;
  return shares_;
}

#define MV_SHARES(method)                                                          \
  if (absl::Status denied = AuthorizeCall(authz_, *context, method); !denied.ok()) \
    return Fail(denied);                                                           \
  absl::StatusOr<ShareBook*> book = LeaderShares();                                \
  if (!book.ok()) return Fail(book.status());

grpc::Status MetaServiceImpl::CreateShare(grpc::ServerContext* context,
                                          const v1::CreateShareMetaRequest* request,
                                          v1::ShareMetaResponse* response) {
  MV_SHARES("CreateShare");
  absl::StatusOr<v1::StoredShare> share = (*book)->Create(request->share());
  if (!share.ok()) return Fail(share.status());
  *response->mutable_share() = *std::move(share);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::ListShares(grpc::ServerContext* context,
                                         const v1::ListSharesMetaRequest*,
                                         v1::ListSharesMetaResponse* response) {
  MV_SHARES("ListShares");
  absl::StatusOr<std::vector<v1::ShareInfo>> shares = (*book)->List();
  if (!shares.ok()) return Fail(shares.status());
  for (v1::ShareInfo& info : *shares) *response->add_shares() = std::move(info);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::GetShare(grpc::ServerContext* context, const v1::ShareRef* request,
                                       v1::ShareMetaResponse* response) {
  MV_SHARES("GetShare");
  absl::StatusOr<v1::StoredShare> share = (*book)->Get(*request);
  if (!share.ok()) return Fail(share.status());
  *response->mutable_share() = *std::move(share);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::RevokeShare(grpc::ServerContext* context,
                                          const v1::ShareActionMetaRequest* request,
                                          v1::ShareMetaResponse* response) {
  MV_SHARES("RevokeShare");
  absl::StatusOr<v1::StoredShare> share = (*book)->Revoke(request->share(), request->actor());
  if (!share.ok()) return Fail(share.status());
  *response->mutable_share() = *std::move(share);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::UnlockShare(grpc::ServerContext* context,
                                          const v1::ShareActionMetaRequest* request,
                                          v1::ShareMetaResponse* response) {
  MV_SHARES("UnlockShare");
  absl::StatusOr<v1::StoredShare> share = (*book)->Unlock(request->share(), request->actor());
  if (!share.ok()) return Fail(share.status());
  *response->mutable_share() = *std::move(share);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::RecordShareAccess(grpc::ServerContext* context,
                                                const v1::RecordShareAccessRequest* request,
                                                v1::RecordShareAccessResponse* response) {
  MV_SHARES("RecordShareAccess");
  absl::StatusOr<AccessDecision> decision = (*book)->RecordAccess(
      request->code_hash(), request->redeem(), request->pin_ok(), request->entry());
  if (!decision.ok()) return Fail(decision.status());
  response->set_allowed(decision->allowed);
  response->set_attempts_remaining(decision->attempts_remaining);
  *response->mutable_share() = std::move(decision->share);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::GetShareLog(grpc::ServerContext* context, const v1::ShareRef* request,
                                          v1::GetShareLogMetaResponse* response) {
  MV_SHARES("GetShareLog");
  absl::StatusOr<std::vector<v1::ShareLogEntry>> log = (*book)->Log(*request);
  if (!log.ok()) return Fail(log.status());
  for (v1::ShareLogEntry& entry : *log) *response->add_entries() = std::move(entry);
  return grpc::Status::OK;
}

#undef MV_SHARES

}  // namespace medvault::metaserver
