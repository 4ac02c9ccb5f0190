#include "frontend/dimse/move_destination.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/cond.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include "frontend/dimse/listener.h"

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

namespace {

// The client side of DICOM TLS for `peer`: BCP 195 (non-downgrading), the destination's
// certificate required and checked against its CA file or the cluster's, ours presented.
absl::StatusOr<std::unique_ptr<DcmTLSTransportLayer>> ClientTls(const DicomPeer& peer,
                                                                const MoveTlsIdentity& identity) {
  const std::string& ca = peer.tls_ca_file.empty() ? identity.cluster_ca : peer.tls_ca_file;
  if (ca.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "move destination ", peer.ae_title, ": DICOM TLS needs a CA (the cluster has none)"));
  }
  auto tls = std::make_unique<DcmTLSTransportLayer>(NET_REQUESTOR, nullptr, OFTrue);
  OFCondition c = tls->setTLSProfile(TSP_Profile_BCP195_ND);
  if (c.good()) c = tls->activateCipherSuites();
  if (c.bad()) return absl::FailedPreconditionError("DICOM TLS: cannot set the BCP 195 profile");
  if (!identity.cert.empty() &&
      (tls->setPrivateKeyFile(identity.key.c_str(), DCF_Filetype_PEM).bad() ||
       tls->setCertificateFile(identity.cert.c_str(), DCF_Filetype_PEM).bad() ||
       !tls->checkPrivateKeyMatchesCertificate())) {
    return absl::FailedPreconditionError(
        "DICOM TLS: cannot use this frontend's certificate with its key");
  }
  if (tls->addTrustedCertificateFile(ca.c_str(), DCF_Filetype_PEM).bad()) {
    return absl::FailedPreconditionError(
        absl::StrCat("move destination ", peer.ae_title, ": cannot read its CA certificates ", ca));
  }
  tls->setCertificateVerification(DCV_requireCertificate);
  return tls;
}

}  // namespace

MoveDestination::MoveDestination(std::unique_ptr<DcmTransportLayer> tls, T_ASC_Network* net,
                                 T_ASC_Association* assoc, int timeout_seconds)
    : tls_(std::move(tls)), net_(net), assoc_(assoc), timeout_seconds_(timeout_seconds) {}

absl::StatusOr<std::unique_ptr<MoveDestination>> MoveDestination::Open(
    const DicomPeer& peer, const std::string& own_ae, const std::vector<RetrieveItem>& items,
    uint32_t max_pdu_bytes, int timeout_seconds, const MoveTlsIdentity& identity) {
  std::unique_ptr<DcmTLSTransportLayer> tls;
  if (peer.tls) {
    absl::StatusOr<std::unique_ptr<DcmTLSTransportLayer>> made = ClientTls(peer, identity);
    if (!made.ok()) return made.status();
    tls = *std::move(made);
  }
  T_ASC_Network* net = nullptr;
  OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, timeout_seconds, &net);
  if (c.bad()) return absl::UnavailableError("cannot initialise DCMTK's network");
  if (tls != nullptr && ASC_setTransportLayer(net, tls.get(), 0).bad()) {
    ASC_dropNetwork(&net);
    return absl::FailedPreconditionError("DICOM TLS: cannot install the transport layer");
  }
  T_ASC_Parameters* params = nullptr;
  c = ASC_createAssociationParameters(&params, max_pdu_bytes);
  if (c.good()) c = ASC_setTransportLayerType(params, tls != nullptr ? OFTrue : OFFalse);
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
    // dcmtls reports a failed handshake under its own module (3.6.7: "TLS error: ...").
    const bool handshake =
        tls != nullptr &&
        (c.module() == OFM_dcmtls || (c.module() == OFM_dcmnet && c.code() == DULC_TLSERROR));
    std::string why = c == DUL_ASSOCIATIONREJECTED ? "it rejected the association"
                      : handshake ? absl::StrCat("DICOM TLS handshake failed: ", c.text())
                                  : absl::StrCat("cannot connect: ", c.text());
    if (assoc != nullptr) {
      ASC_dropAssociation(assoc);
      ASC_destroyAssociation(&assoc);
    } else {
      ASC_destroyAssociationParameters(&params);
    }
    ASC_dropNetwork(&net);
    const std::string message =
        absl::StrCat("move destination ", peer.ae_title, " at ", address, ": ", why);
    return handshake ? absl::UnauthenticatedError(message) : absl::UnavailableError(message);
  }
  DisableNagle(assoc);  // each sub-operation's C-STORE waits for a response, as our SCP's do
  return std::unique_ptr<MoveDestination>(
      new MoveDestination(std::move(tls), net, assoc, timeout_seconds));
}

MoveDestination::~MoveDestination() {
  if (broken_ || ASC_releaseAssociation(assoc_).bad()) ASC_abortAssociation(assoc_);
  ASC_dropAssociation(assoc_);
  ASC_destroyAssociation(&assoc_);
  ASC_dropNetwork(&net_);
  tls_.reset();  // after the network that used it
}

namespace {

// A sub-operation towards the destination: the loss of its association fails this one (and
// marks the destination broken), not the originator's association.
class DestinationSend : public SubOperationSend {
 public:
  DestinationSend(std::unique_ptr<StoredInstanceSender> to, bool* broken)
      : to_(std::move(to)), broken_(broken) {}
  absl::Status Data(absl::string_view data) override { return to_->Data(data); }
  SubOperation Finish(const absl::Status& read) override {
    SubOperation out = to_->Finish(read);
    if (!out.association_ok) {
      *broken_ = true;
      out.association_ok = true;
      out.sent = false;
      out.why = "the association to the move destination was lost: " + out.why;
    }
    return out;
  }

 private:
  const std::unique_ptr<StoredInstanceSender> to_;
  bool* const broken_;
};

}  // namespace

bool MoveDestination::CanSend(const RetrieveItem& item) const {
  return AcceptedContextFor(assoc_, /*as_scp_role=*/false, item) != 0;
}

std::unique_ptr<SubOperationSend> MoveDestination::Start(const RetrieveItem& item,
                                                         const std::string& originator_ae,
                                                         uint16_t originator_message_id) {
  if (broken_) {
    return std::make_unique<RefusedSend>("the association to the move destination was lost");
  }
  return std::make_unique<DestinationSend>(
      std::make_unique<StoredInstanceSender>(assoc_, /*as_scp_role=*/false, item,
                                             next_message_id_++, originator_ae,
                                             originator_message_id, timeout_seconds_),
      &broken_);
}

}  // namespace medvault::frontend
