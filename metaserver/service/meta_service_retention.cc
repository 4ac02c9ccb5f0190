// MetaService's retention rpcs: authorise, call the catalog (which takes the leader's barrier and
// serialises with deletions), convert. The study's UID is never logged.
#include "common/rpc.h"
#include "metaserver/service/meta_service.h"

namespace medvault::metaserver {
namespace {

void FillRetention(const RetentionAnswer& answer, v1::RetentionMetaResponse* response) {
  *response->mutable_retention() = answer.info;
  response->set_study_stored(answer.study_stored);
}

}  // namespace

grpc::Status MetaServiceImpl::SetRetention(grpc::ServerContext* context,
                                           const v1::SetRetentionMetaRequest* request,
                                           v1::RetentionMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "SetRetention"); !denied.ok())
    return Fail(denied);
  absl::StatusOr<RetentionAnswer> answer =
      catalog_->SetRetention(request->study_uid(), request->rule(), request->clear(),
                             request->actor(), clock_->NowMicros());
  if (!answer.ok()) return Fail(answer.status());
  FillRetention(*answer, response);
  return grpc::Status::OK;
}

grpc::Status MetaServiceImpl::SetLegalHold(grpc::ServerContext* context,
                                           const v1::SetLegalHoldMetaRequest* request,
                                           v1::RetentionMetaResponse* response) {
  if (absl::Status denied = AuthorizeCall(authz_, *context, "SetLegalHold"); !denied.ok())
    return Fail(denied);
  absl::StatusOr<RetentionAnswer> answer = catalog_->SetLegalHold(
      request->study_uid(), request->hold(), request->actor(), clock_->NowMicros());
  if (!answer.ok()) return Fail(answer.status());
  FillRetention(*answer, response);
  return grpc::Status::OK;
}

}  // namespace medvault::metaserver
