// The C-STORE sub-operations of a C-GET or C-MOVE (PS3.4 C.4.2.1.5, C.4.3.1.4), independent of
// the association: sends each listed instance, counts remaining / completed / failed / warning,
// asks between sub-operations whether to go on (a C-CANCEL, or the originator gone), and decides
// the final status. DimseServer (C-GET) and MoveOperation (C-MOVE) supply how an instance is sent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dimse.h"
#include "frontend/dimse/retrieve.h"
#include "frontend/dimse/store_stream.h"

class DcmDataset;

namespace medvault::frontend {

struct RetrieveCounts {
  uint16_t remaining = 0, completed = 0, failed = 0, warning = 0;
  std::vector<std::string> failed_uids;
  bool association_lost = false;  // the originator's association cannot be used any more
};

// Sends `items` with `send`, calling `pending` before each but the first (false ends the
// retrieve as cancelled) and `prepare` first when there is anything to send. Returns the final
// status: 0000 all sent, B000 some failed or warned, A702 none could be sent, FE00 cancelled;
// 0xFFFF when a sub-operation lost the originator's association (`n->association_lost`).
// `caller` names the originator in log lines (never a UID).
DimseStatus RunSubOperations(const std::vector<RetrieveItem>& items, RetrieveCounts* n,
                             const std::function<void(const std::vector<RetrieveItem>&)>& prepare,
                             const std::function<SubOperation(const RetrieveItem&)>& send,
                             const std::function<bool(const RetrieveCounts&)>& pending,
                             const std::string& caller);

// The identifier of a final C-GET/C-MOVE response: the Failed SOP Instance UID List, or null.
std::unique_ptr<DcmDataset> FailedList(const RetrieveCounts& n);

// The counts into a C-GET or C-MOVE response (the O_MOVE_* options are the O_GET_* values).
template <typename Rsp>
void FillCounts(const RetrieveCounts& n, bool with_remaining, Rsp* rsp) {
  rsp->NumberOfRemainingSubOperations = n.remaining;
  rsp->NumberOfCompletedSubOperations = n.completed;
  rsp->NumberOfFailedSubOperations = n.failed;
  rsp->NumberOfWarningSubOperations = n.warning;
  rsp->opts = O_GET_AFFECTEDSOPCLASSUID | O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS |
              O_GET_NUMBEROFFAILEDSUBOPERATIONS | O_GET_NUMBEROFWARNINGSUBOPERATIONS |
              (with_remaining ? O_GET_NUMBEROFREMAININGSUBOPERATIONS : 0);
}

}  // namespace medvault::frontend
