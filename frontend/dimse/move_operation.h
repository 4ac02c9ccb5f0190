// The Move Destination side of one C-MOVE (PS3.4 C.4.2): the destination looked up in the peers
// table, the association to it opened (move_destination.h) once the instances to send are known,
// each C-STORE sub-operation sent over it with the originator's AE title and message id, the
// association released before the final response (so every completed instance is at the
// destination when the caller learns it), and the Error Comment of a final status that failed
// for the destination's sake.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "frontend/dimse/dicom_access.h"
#include "frontend/dimse/move_destination.h"
#include "frontend/dimse/store_stream.h"

namespace medvault::frontend {

struct MoveSettings {
  std::string own_ae;  // medvault's AE title, the calling AE title towards the destination
  uint32_t max_pdu_bytes = 116794;
  int timeout_seconds = 30;
  MoveTlsIdentity tls;  // for destinations marked "tls" in the peers table
};

class MoveOperation {
 public:
  // `destination_ae` as the C-MOVE-RQ names it (printable). `peers` must outlive the operation.
  MoveOperation(const std::vector<DicomPeer>& peers, const std::string& destination_ae,
                MoveSettings settings);
  ~MoveOperation();

  // False when the destination is not in the peers table (A801: nothing may be sent).
  bool known() const { return peer_ != nullptr; }
  // The status of a C-MOVE to an unknown destination.
  static DimseStatus Unknown();

  // Opens the association to the destination for `items` (a failure is logged; every Send then
  // fails).
  void Open(const std::vector<RetrieveItem>& items);
  // Whether `item` can be sent: the destination was opened and accepted a context for its SOP
  // class in its stored transfer syntax. REQUIRES: after Open.
  bool CanSend(const RetrieveItem& item) const { return to_ != nullptr && to_->CanSend(item); }
  // One sub-operation; its bytes follow (sub_operations.h).
  std::unique_ptr<SubOperationSend> Start(const RetrieveItem& item,
                                          const std::string& originator_ae,
                                          uint16_t originator_message_id);
  // Releases the association; when nothing could be sent because the destination could not be
  // opened, gives `final_status` (A702) the comment saying why: not reachable or refused, its
  // DICOM TLS handshake failed (its certificate is not trusted, or it refused ours), or the TLS
  // settings for it cannot be used.
  void Finish(DimseStatus* final_status);

 private:
  const DicomPeer* peer_ = nullptr;
  const MoveSettings settings_;
  std::unique_ptr<MoveDestination> to_;
  absl::Status opened_;
};

}  // namespace medvault::frontend
