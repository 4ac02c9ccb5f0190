// ImageStore's share rpcs: authorise by scope, call the ShareDesk, count and convert. The access
// code and PIN appear only in CreateShare's answer; nothing here logs them.
#include "common/rpc.h"
#include "frontend/service/image_store_service.h"

namespace medvault::frontend {

absl::StatusOr<PeerIdentity> ImageStoreService::AuthorizeShares(const grpc::ServerContext& ctx,
                                                                const char* method) {
  absl::StatusOr<PeerIdentity> who = authz_->Authorize(ctx, method);
  if (!who.ok()) return who.status();
  if (shares_ == nullptr) return absl::FailedPreconditionError("this frontend serves no shares");
  return who;
}

grpc::Status ImageStoreService::CreateShare(grpc::ServerContext* ctx,
                                            const v1::CreateShareRequest* request,
                                            v1::CreateShareResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "CreateShare");
  if (!who.ok()) return Finish("CreateShare", who.status());
  absl::StatusOr<CreatedShare> made = shares_->Create(*request, who->ToString());
  if (!made.ok()) return Finish("CreateShare", made.status());
  response->set_access_code(made->access_code);
  response->set_pin(made->pin);
  *response->mutable_share() = std::move(made->info);
  return Finish("CreateShare", absl::OkStatus());
}

grpc::Status ImageStoreService::ListShares(grpc::ServerContext* ctx, const v1::ListSharesRequest*,
                                           v1::ListSharesResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "ListShares");
  if (!who.ok()) return Finish("ListShares", who.status());
  absl::StatusOr<std::vector<v1::ShareInfo>> shares = shares_->List();
  if (!shares.ok()) return Finish("ListShares", shares.status());
  for (v1::ShareInfo& info : *shares) *response->add_shares() = std::move(info);
  return Finish("ListShares", absl::OkStatus());
}

grpc::Status ImageStoreService::GetShare(grpc::ServerContext* ctx, const v1::ShareRequest* request,
                                         v1::ShareResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "GetShare");
  if (!who.ok()) return Finish("GetShare", who.status());
  absl::StatusOr<v1::ShareInfo> info = shares_->Show(request->share());
  if (!info.ok()) return Finish("GetShare", info.status());
  *response->mutable_share() = *std::move(info);
  return Finish("GetShare", absl::OkStatus());
}

grpc::Status ImageStoreService::RevokeShare(grpc::ServerContext* ctx,
                                            const v1::ShareRequest* request,
                                            v1::ShareResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "RevokeShare");
  if (!who.ok()) return Finish("RevokeShare", who.status());
  absl::StatusOr<v1::ShareInfo> info = shares_->Revoke(request->share(), who->ToString());
  if (!info.ok()) return Finish("RevokeShare", info.status());
  *response->mutable_share() = *std::move(info);
  return Finish("RevokeShare", absl::OkStatus());
}

grpc::Status ImageStoreService::UnlockShare(grpc::ServerContext* ctx,
                                            const v1::ShareRequest* request,
                                            v1::ShareResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "UnlockShare");
  if (!who.ok()) return Finish("UnlockShare", who.status());
  absl::StatusOr<v1::ShareInfo> info = shares_->Unlock(request->share(), who->ToString());
  if (!info.ok()) return Finish("UnlockShare", info.status());
  *response->mutable_share() = *std::move(info);
  return Finish("UnlockShare", absl::OkStatus());
}

grpc::Status ImageStoreService::GetShareLog(grpc::ServerContext* ctx,
                                            const v1::ShareRequest* request,
                                            v1::GetShareLogResponse* response) {
  absl::StatusOr<PeerIdentity> who = AuthorizeShares(*ctx, "GetShareLog");
  if (!who.ok()) return Finish("GetShareLog", who.status());
  absl::StatusOr<std::vector<v1::ShareLogEntry>> log = shares_->Log(request->share());
  if (!log.ok()) return Finish("GetShareLog", log.status());
  for (v1::ShareLogEntry& entry : *log) *response->add_entries() = std::move(entry);
  return Finish("GetShareLog", absl::OkStatus());
}

}  // namespace medvault::frontend
