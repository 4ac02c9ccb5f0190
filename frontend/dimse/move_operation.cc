#include "frontend/dimse/move_operation.h"

#include <utility>

#include "common/log.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dimse.h"

namespace medvault::frontend {

MoveOperation::MoveOperation(const std::vector<DicomPeer>& peers, const std::string& destination_ae,
                             MoveSettings settings)
    : settings_(std::move(settings)) {
  for (const DicomPeer& p : peers) {
    if (p.ae_title == destination_ae) peer_ = &p;
  }
}

MoveOperation::~MoveOperation() = default;

DimseStatus MoveOperation::Unknown() {
  return {STATUS_MOVE_Refused_MoveDestinationUnknown,
          "Move Destination unknown: not in this archive's peers table"};
}

void MoveOperation::Open(const std::vector<RetrieveItem>& items) {
  absl::StatusOr<std::unique_ptr<MoveDestination>> d =
      MoveDestination::Open(*peer_, settings_.own_ae, items, settings_.max_pdu_bytes,
                            settings_.timeout_seconds, settings_.tls);
  opened_ = d.status();
  if (d.ok()) to_ = *std::move(d);
  if (!opened_.ok()) MV_LOG(INFO) << "DIMSE: C-MOVE: " << opened_.message();
}

std::unique_ptr<SubOperationSend> MoveOperation::Start(const RetrieveItem& item,
                                                       const std::string& originator_ae,
                                                       uint16_t originator_message_id) {
  if (to_ == nullptr) return std::make_unique<RefusedSend>("destination unreachable");
  return to_->Start(item, originator_ae, originator_message_id);
}

void MoveOperation::Finish(DimseStatus* final_status) {
  to_.reset();  // released before the final response: every instance is at the destination
  if (opened_.ok() || final_status->code != STATUS_MOVE_Refused_OutOfResourcesSubOperations) {
    return;
  }
  switch (opened_.code()) {
    case absl::StatusCode::kUnauthenticated:
      final_status->comment = "Move Destination failed the DICOM TLS handshake (certificate)";
      break;
    case absl::StatusCode::kFailedPrecondition:
      final_status->comment = "DICOM TLS settings for the Move Destination unusable";
      break;
    default:
      final_status->comment = "Move Destination not reachable or refused the association";
  }
}

}  // namespace medvault::frontend
