#include "frontend/dimse/sub_operations.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmnet/dimse.h"

namespace medvault::frontend {

DimseStatus RunSubOperations(const std::vector<RetrieveItem>& items, RetrieveCounts* n,
                             const std::function<void(const std::vector<RetrieveItem>&)>& prepare,
                             const std::function<SubOperation(const RetrieveItem&)>& send,
                             const std::function<bool(const RetrieveCounts&)>& pending,
                             const std::string& caller) {
  n->remaining = static_cast<uint16_t>(std::min<size_t>(items.size(), 0xFFFF));
  if (prepare && !items.empty()) prepare(items);
  bool cancelled = false;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && !pending(*n)) {
      cancelled = true;
      break;
    }
    SubOperation r = send(items[i]);
    if (!r.association_ok) {
      MV_LOG(INFO) << "DIMSE: retrieve sub-operation for " << caller
                   << " ended the association: " << r.why;
      n->association_lost = true;
      return {0xFFFF, ""};
    }
    --n->remaining;
    if (r.sent && r.status == STATUS_Success) {
      ++n->completed;
    } else if (r.sent && (r.status & 0xF000) == 0xB000) {
      ++n->warning;
    } else {
      ++n->failed;
      n->failed_uids.push_back(items[i].sop_instance_uid);
      MV_LOG(INFO) << "DIMSE: retrieve sub-operation for " << caller
                   << " failed: " << (r.sent ? absl::StrFormat("status 0x%04X", r.status) : r.why);
    }
    if (r.cancelled) {
      cancelled = i + 1 < items.size();
      break;
    }
  }
  if (cancelled) return {STATUS_GET_Cancel_SubOperationsTerminatedDueToCancelIndication, ""};
  if (n->failed == 0 && n->warning == 0) return {STATUS_Success, ""};
  if (n->completed == 0 && n->warning == 0) {
    return {STATUS_GET_Refused_OutOfResourcesSubOperations, "no instance could be sent"};
  }
  return {STATUS_GET_Warning_SubOperationsCompleteOneOrMoreFailures,
          "some instances could not be sent"};
}

std::unique_ptr<DcmDataset> FailedList(const RetrieveCounts& n) {
  if (n.failed_uids.empty()) return nullptr;
  auto ds = std::make_unique<DcmDataset>();
  ds->putAndInsertString(DCM_FailedSOPInstanceUIDList, absl::StrJoin(n.failed_uids, "\\").c_str());
  return ds;
}

}  // namespace medvault::frontend
