// The outgoing side of a C-MOVE (PS3.4 C.4.2): the association medvault opens, as SCU and under
// its own AE title, to a Move Destination from the configured peers table, and the C-STORE
// sub-operations sent over it. One presentation context is proposed per (SOP class, stored
// transfer syntax) among the instances to send, each with that transfer syntax alone: a retrieve
// sends stored bytes unchanged, so an instance goes only over a context in its own syntax.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/dimse/dicom_access.h"
#include "frontend/dimse/retrieve.h"

struct T_ASC_Network;
struct T_ASC_Association;

namespace medvault::frontend {

// The presentation contexts proposed for `items`: distinct (SOP class, transfer syntax) pairs in
// first-seen order, at most 128 (the rest of the instances then fail as having no context).
// Instances stored without a meta header (no transfer syntax known) are left out.
std::vector<std::pair<std::string, std::string>> MoveContexts(
    const std::vector<RetrieveItem>& items);

class MoveDestination {
 public:
  // Opens the association to `peer` calling it from `own_ae`. UNAVAILABLE when it cannot be
  // reached in `timeout_seconds` or refuses the association (the message says which, never a
  // UID).
  static absl::StatusOr<std::unique_ptr<MoveDestination>> Open(
      const DicomPeer& peer, const std::string& own_ae, const std::vector<RetrieveItem>& items,
      uint32_t max_pdu_bytes, int timeout_seconds);
  ~MoveDestination();  // releases the association (aborts it when it broke)

  // One C-STORE sub-operation (SendStoredInstance), with the originator's AE title and message
  // id. The returned association_ok is always true (the originator's association is fine): a
  // broken destination association makes this and every later sub-operation fail instead.
  SubOperation Send(ImageStoreCore* core, const RetrieveItem& item,
                    const std::string& originator_ae, uint16_t originator_message_id,
                    const std::string& caller);

 private:
  MoveDestination(T_ASC_Network* net, T_ASC_Association* assoc, int timeout_seconds)
      : net_(net), assoc_(assoc), timeout_seconds_(timeout_seconds) {}

  T_ASC_Network* net_;
  T_ASC_Association* assoc_;
  const int timeout_seconds_;
  bool broken_ = false;
  uint16_t next_message_id_ = 1;
};

}  // namespace medvault::frontend
