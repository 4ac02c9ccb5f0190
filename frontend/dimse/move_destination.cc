#include "frontend/dimse/move_destination.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"

namespace medvault::frontend {

std::vector<std::pair<std::string, std::string>> MoveContexts(
    const std::vector<RetrieveItem>& items) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const RetrieveItem& item : items) {
    if (item.transfer_syntax_uid.empty() || item.sop_class_uid.empty()) continue;
    std::pair<std::string, std::string> pair{item.sop_class_uid, item.transfer_syntax_uid};
    if (std::find(out.begin(), out.end(), pair) != out.end()) continue;
    if (out.size() == 128) break;  // presentation context ids are the odd numbers 1..255
    out.push_back(std::move(pair));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MoveDestination>> MoveDestination::Open(
    const DicomPeer& peer, const std::string& own_ae, const std::vector<RetrieveItem>& items,
    uint32_t max_pdu_bytes, int timeout_seconds) {
  T_ASC_Network* net = nullptr;
  OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, timeout_seconds, &net);
  if (c.bad()) return absl::UnavailableError("cannot initialise DCMTK's network");
  T_ASC_Parameters* params = nullptr;
  c = ASC_createAssociationParameters(&params, max_pdu_bytes);
  if (c.good()) c = ASC_setAPTitles(params, own_ae.c_str(), peer.ae_title.c_str(), nullptr);
  const std::string address = absl::StrCat(peer.host, ":", peer.port);
  if (c.good()) c = ASC_setPresentationAddresses(params, "localhost", address.c_str());
  T_ASC_PresentationContextID id = 1;
  for (const auto& [sop_class, ts] : MoveContexts(items)) {
    const char* syntaxes[] = {ts.c_str()};
    if (c.good()) c = ASC_addPresentationContext(params, id, sop_class.c_str(), syntaxes, 1);
    id += 2;
  }
  if (c.bad()) {
    if (params != nullptr) ASC_destroyAssociationParameters(&params);
    ASC_dropNetwork(&net);
    return absl::UnavailableError(absl::StrCat("cannot propose the association: ", c.text()));
  }
  T_ASC_Association* assoc = nullptr;
  c = ASC_requestAssociation(net, params, &assoc);
  if (c.bad()) {
    std::string why = c == DUL_ASSOCIATIONREJECTED ? "it rejected the association"
                                                   : absl::StrCat("cannot connect: ", c.text());
    if (assoc != nullptr) {
      ASC_dropAssociation(assoc);
      ASC_destroyAssociation(&assoc);
    } else {
      ASC_destroyAssociationParameters(&params);
    }
    ASC_dropNetwork(&net);
    return absl::UnavailableError(
        absl::StrCat("move destination ", peer.ae_title, " at ", address, ": ", why));
  }
  return std::unique_ptr<MoveDestination>(new MoveDestination(net, assoc, timeout_seconds));
}

MoveDestination::~MoveDestination() {
  if (broken_ || ASC_releaseAssociation(assoc_).bad()) ASC_abortAssociation(assoc_);
  ASC_dropAssociation(assoc_);
  ASC_destroyAssociation(&assoc_);
  ASC_dropNetwork(&net_);
}

SubOperation MoveDestination::Send(ImageStoreCore* core, const RetrieveItem& item,
                                   const std::string& originator_ae, uint16_t originator_message_id,
                                   const std::string& caller) {
  SubOperation out;
  if (broken_) {
    out.why = "the association to the move destination was lost";
    return out;
  }
  out = SendStoredInstance(assoc_, /*as_scp_role=*/false, core, item, next_message_id_++,
                           originator_ae, originator_message_id, caller, timeout_seconds_);
  if (!out.association_ok) {
    broken_ = true;
    out.association_ok = true;
    out.sent = false;
    out.why = "the association to the move destination was lost: " + out.why;
  }
  return out;
}

}  // namespace medvault::frontend
