// ImageStore's retention calls: check the UID, pass the rule or hold to the metaserver with who
// asked. The metaserver validates the rule and enforces it (metaserver/core/catalog_retention.cc).
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "frontend/core/image_store_core.h"

namespace medvault::frontend {
namespace {

v1::RetentionResponse Answer(v1::RetentionMetaResponse meta) {
  v1::RetentionResponse response;
  *response.mutable_retention() = std::move(*meta.mutable_retention());
  response.set_study_stored(meta.study_stored());
  return response;
}

}  // namespace

absl::StatusOr<v1::RetentionResponse> ImageStoreCore::SetRetention(
    const v1::SetRetentionRequest& request, const std::string& caller) {
  v1::SetRetentionMetaRequest meta;
  ASSIGN_OR_RETURN(*meta.mutable_study_uid(), RequestUid(request.study_uid(), "study_uid"));
  *meta.mutable_rule() = request.rule();
  meta.set_clear(request.clear());
  meta.set_actor(caller);
  ASSIGN_OR_RETURN(v1::RetentionMetaResponse answer, meta_->SetRetention(meta));
  return Answer(std::move(answer));
}

absl::StatusOr<v1::RetentionResponse> ImageStoreCore::SetLegalHold(
    const v1::SetLegalHoldRequest& request, const std::string& caller) {
  v1::SetLegalHoldMetaRequest meta;
  ASSIGN_OR_RETURN(*meta.mutable_study_uid(), RequestUid(request.study_uid(), "study_uid"));
  meta.set_hold(request.hold());
  meta.set_actor(caller);
  ASSIGN_OR_RETURN(v1::RetentionMetaResponse answer, meta_->SetLegalHold(meta));
  return Answer(std::move(answer));
}

}  // namespace medvault::frontend
