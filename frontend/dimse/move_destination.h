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
class DcmTransportLayer;

namespace medvault::frontend {

// What medvault trusts and presents on the association to a TLS destination (DicomPeer::tls).
struct MoveTlsIdentity {
  std::string cluster_ca;  // PEM CA certificates for destinations marked "tls" without a file
  std::string cert, key;   // PEM certificate and key presented to the destination (when set)
};

// The presentation contexts proposed for `items`: distinct (SOP class, transfer syntax) pairs in
// first-seen order, at most 128 (the rest of the instances then fail as having no context).
// Instances stored without a meta header (no transfer syntax known) are left out.
std::vector<std::pair<std::string, std::string>> MoveContexts(
    const std::vector<RetrieveItem>& items);

class MoveDestination {
 public:
  // Opens the association to `peer` calling it from `own_ae`, over DICOM TLS (DCMTK's dcmtls,
  // the BCP 195 non-downgrading profile) when the peer is marked so: the destination's
  // certificate must chain to its CA file or the cluster's, and `tls` is presented to it.
  // UNAVAILABLE when it cannot be reached in `timeout_seconds` or refuses the association;
  // UNAUTHENTICATED when the TLS handshake fails (its certificate is not trusted, or it refused
  // ours); FAILED_PRECONDITION when the TLS settings cannot be used (no CA, unreadable files).
  // Messages say which, never a UID.
  static absl::StatusOr<std::unique_ptr<MoveDestination>> Open(
      const DicomPeer& peer, const std::string& own_ae, const std::vector<RetrieveItem>& items,
      uint32_t max_pdu_bytes, int timeout_seconds, const MoveTlsIdentity& tls = {});
  ~MoveDestination();  // releases the association (aborts it when it broke)

  // Whether the destination accepted a presentation context for `item`'s SOP class in its stored
  // transfer syntax: what may be sent (and so have its data key released) at all.
  bool CanSend(const RetrieveItem& item) const;
  // One C-STORE sub-operation (StoredInstanceSender), with the originator's AE title and message
  // id. Its Finish's association_ok is always true (the originator's association is fine): a
  // broken destination association makes this and every later sub-operation fail instead.
  std::unique_ptr<SubOperationSend> Start(const RetrieveItem& item,
                                          const std::string& originator_ae,
                                          uint16_t originator_message_id);

 private:
  MoveDestination(std::unique_ptr<DcmTransportLayer> tls, T_ASC_Network* net,
                  T_ASC_Association* assoc, int timeout_seconds);

  std::unique_ptr<DcmTransportLayer> tls_;  // set over DICOM TLS; outlives net_
  T_ASC_Network* net_;
  T_ASC_Association* assoc_;
  const int timeout_seconds_;
  bool broken_ = false;
  uint16_t next_message_id_ = 1;
};

}  // namespace medvault::frontend
