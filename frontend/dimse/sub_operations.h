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
#include "frontend/core/image_store_core.h"
#include "frontend/dimse/retrieve.h"
#include "frontend/dimse/store_stream.h"

class DcmDataset;

namespace medvault::frontend {

struct RetrieveCounts {
  uint16_t remaining = 0, completed = 0, failed = 0, warning = 0;
  std::vector<std::string> failed_uids;
  bool association_lost = false;  // the originator's association cannot be used any more
};

// Reads `items` from index `from` on, in order, as ImageStoreCore::RetrieveSet does: the sink
// gets each instance's info, then its bytes; their data keys are released in one audited call.
// Returns the read's error, or the sink's (which stops it).
using ReadItems = std::function<absl::Status(const std::vector<RetrieveItem>& items, size_t from,
                                             const ImageStoreCore::Sink& sink)>;
// Starts the sub-operation of one item (its bytes follow).
using StartSend = std::function<std::unique_ptr<SubOperationSend>(const RetrieveItem&)>;

// Whether an instance can be sent at all (an accepted presentation context for its SOP class in
// its stored transfer syntax on the association it would go over).
using CanSend = std::function<bool(const RetrieveItem&)>;

// Sends `items` as they are read by `read` (one set retrieval: one key release for them all;
// after an instance that could not be read, counted failed, the rest are read as a new set), each
// through a sub-operation `start` begins, calling `pending` before each but the first (false ends
// the retrieve as cancelled) and `prepare` first when there is anything to send. After `prepare`,
// the items `can_send` refuses are counted failed at once and never read: their data keys are not
// released (null `can_send`: every item may be sent). Returns the final status: 0000 all sent,
// B000 some failed or warned, A702 none could be sent, FE00 cancelled; 0xFFFF when a
// sub-operation lost the originator's association (`n->association_lost`). `caller` names the
// originator in log lines (never a UID).
DimseStatus RunSubOperations(const std::vector<RetrieveItem>& listed, RetrieveCounts* n,
                             const std::function<void(const std::vector<RetrieveItem>&)>& prepare,
                             const CanSend& can_send, const ReadItems& read, const StartSend& start,
                             const std::function<bool(const RetrieveCounts&)>& pending,
                             const std::string& caller);

// ReadItems through `core`'s set retrieval, the key release audited for `caller` (the key
// service's audit name) with `purpose` and the peer's address.
ReadItems SetReader(ImageStoreCore* core, const std::string& caller, const std::string& purpose,
                    const std::string& peer);

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
